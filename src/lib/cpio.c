/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "cpio.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

/* Any fixed start keeps the output reproducible; this is where Linux's
 * gen_init_cpio starts too, so the numbers look familiar. */
#define CPIO_FIRST_INO 721u
/* The kernel refuses longer names (PATH_MAX, counting the NUL). */
#define CPIO_NAME_MAX 4096u
#define TRAILER "TRAILER!!!"

static const char zeros[512];

void cpio_init(struct cpio_writer *w, FILE *f)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
	w->next_ino = CPIO_FIRST_INO;
}

/* Any error sticks, so a caller may check only cpio_finish() and still
 * never mistake a short archive for a whole one. */
static int fail(struct cpio_writer *w, int r)
{
	if (!w->error)
		w->error = r;
	return w->error;
}

static int io_error(struct cpio_writer *w)
{
	return fail(w, errno ? -errno : -EIO);
}

static int put(struct cpio_writer *w, const void *data, size_t len)
{
	if (w->error)
		return w->error;
	errno = 0;
	if (len && fwrite(data, 1, len, w->f) != len)
		return io_error(w);
	w->written += len;
	return 0;
}

/* Zero bytes up to the next multiple of `align` (a power of two <= 512). */
static int pad(struct cpio_writer *w, uint64_t align)
{
	size_t n = (size_t)((align - (w->written & (align - 1))) & (align - 1));
	return put(w, zeros, n);
}

static void hex8(char field[8], uint32_t v)
{
	static const char digits[] = "0123456789ABCDEF";

	for (int i = 7; i >= 0; i--, v >>= 4)
		field[i] = digits[v & 0xf];
}

static int entry(struct cpio_writer *w, uint32_t ino, const char *name, uint32_t mode,
		 uint32_t nlink, const void *data, size_t len)
{
	struct cpio_newc_header h;
	size_t namesize = strlen(name) + 1;
	int r;

	if (w->error)
		return w->error;
	if (namesize > CPIO_NAME_MAX)
		return fail(w, -ENAMETOOLONG);
	if (len > UINT32_MAX)
		return fail(w, -EFBIG);
	memcpy(h.magic, "070701", sizeof(h.magic));
	hex8(h.ino, ino);
	hex8(h.mode, mode);
	hex8(h.uid, 0);
	hex8(h.gid, 0);
	hex8(h.nlink, nlink);
	hex8(h.mtime, 0);
	hex8(h.filesize, (uint32_t)len);
	hex8(h.devmajor, 0);
	hex8(h.devminor, 0);
	hex8(h.rdevmajor, 0);
	hex8(h.rdevminor, 0);
	hex8(h.namesize, (uint32_t)namesize);
	hex8(h.check, 0);
	/* the written count starts at the header, so padding it counts both */
	if ((r = put(w, &h, sizeof(h))) < 0 || (r = put(w, name, namesize)) < 0 ||
	    (r = pad(w, 4)) < 0 || (r = put(w, data, len)) < 0 || (r = pad(w, 4)) < 0)
		return r;
	return 0;
}

/* "TRAILER!!!" would end the archive there: the kernel (and cpio) would
 * silently drop every entry after it */
static bool bad_name(const char *name)
{
	return !name || !*name || strcmp(name, "TRAILER!!!") == 0;
}

int cpio_add_dir(struct cpio_writer *w, const char *name, unsigned mode)
{
	if (bad_name(name))
		return fail(w, -EINVAL);
	return entry(w, w->next_ino++, name, S_IFDIR | (mode & 07777), 2, NULL, 0);
}

int cpio_add_file(struct cpio_writer *w, const char *name, unsigned mode,
		  const void *data, size_t len)
{
	if (bad_name(name) || (len && !data))
		return fail(w, -EINVAL);
	return entry(w, w->next_ino++, name, S_IFREG | (mode & 07777), 1, data, len);
}

int cpio_add_symlink(struct cpio_writer *w, const char *name, const char *target)
{
	/* only the name ends an archive; any non-empty link text is fine */
	if (bad_name(name) || !target || !*target)
		return fail(w, -EINVAL);
	/* the link text is the data, without a NUL */
	return entry(w, w->next_ino++, name, S_IFLNK | 0777, 1, target, strlen(target));
}

int cpio_finish(struct cpio_writer *w)
{
	int r = entry(w, 0, TRAILER, 0, 1, NULL, 0);
	if (r < 0)
		return r;
	if ((r = pad(w, 512)) < 0)
		return r;
	errno = 0;
	if (fflush(w->f) != 0)
		return io_error(w);
	return 0;
}

bool cpio_lead_needed(const void *head, size_t n)
{
	return n >= 2 && memcmp(head, "\x1f\x8b", 2) == 0;
}

void cpio_lead(unsigned char out[CPIO_LEAD_SIZE])
{
	static const char name[] = TRAILER;
	struct cpio_newc_header h;

	memset(out, 0, CPIO_LEAD_SIZE);
	memcpy(h.magic, "070701", sizeof(h.magic));
	hex8(h.ino, 0);
	hex8(h.mode, 0);
	hex8(h.uid, 0);
	hex8(h.gid, 0);
	hex8(h.nlink, 1);
	hex8(h.mtime, 0);
	hex8(h.filesize, 0);
	hex8(h.devmajor, 0);
	hex8(h.devminor, 0);
	hex8(h.rdevmajor, 0);
	hex8(h.rdevminor, 0);
	hex8(h.namesize, sizeof(name));
	hex8(h.check, 0);
	memcpy(out, &h, sizeof(h));
	memcpy(out + sizeof(h), name, sizeof(name));
}
