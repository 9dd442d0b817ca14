/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Making one kernel variant: KERNELS_DIR/VER -> KERNELS_DIR/VER-ephemeral.
 *
 * Everything is written into KERNELS_DIR/.VER-ephemeral.tmp.XXXXXX (same
 * file system, so the last step is a rename), every file and the folder
 * fsync'ed, then swapped into place:
 *   no variant yet:   rename(tmp, variant) with RENAME_NOREPLACE
 *   a variant exists: renameat2(tmp, variant, RENAME_EXCHANGE), then the old
 *                     one (now at tmp) is removed; the name never disappears.
 *                     Without RENAME_EXCHANGE: variant -> .VER-ephemeral.old.X,
 *                     tmp -> variant; a run killed between the two renames
 *                     is repaired by the next run (variant_cleanup puts the
 *                     old one back).
 * So a kill at any point leaves the previous complete variant or the new
 * complete one; leftovers under hidden names are removed by the next run.
 *
 * The original folder and its files are only ever opened O_RDONLY.
 *
 * Test hook: QVM_EPHEMERAL_TEST_KILL_AT=STEP SIGKILLs the process at STEP,
 * one of: tmpdir copy append initramfs modules-copy debugfs manifest
 * exchanged old-away (see tests/dom0/kernel.sh). QVM_EPHEMERAL_TEST_NO_EXCHANGE=1
 * takes the two-rename path as if the file system had no RENAME_EXCHANGE. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpio.h"
#include "kernel.h"
#include "log.h"
#include "qvm.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static int cmp_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

int kernel_list_files(int verfd, char names[][KNAME_MAX], size_t max, size_t *n)
{
	struct stat st;
	int fd = dup(verfd);
	DIR *d;

	*n = 0;
	if (fd < 0)
		return -errno;
	if (!(d = fdopendir(fd))) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.' || strchr(e->d_name, '\n') || strlen(e->d_name) >= KNAME_MAX)
			continue;
		if (fstatat(verfd, e->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (*n >= max) {
			closedir(d);
			return -E2BIG;
		}
		snprintf(names[(*n)++], KNAME_MAX, "%s", e->d_name);
	}
	closedir(d);
	qsort(names, *n, KNAME_MAX, cmp_names);
	return 0;
}

static void mfile_stat(struct mfile *f, const char *name, const struct stat *st)
{
	size_t l = strnlen(name, sizeof(f->name) - 1);
	memcpy(f->name, name, l);
	f->name[l] = '\0';
	f->size = (uint64_t)st->st_size;
	f->ino = (uint64_t)st->st_ino;
	f->mtime_s = st->st_mtim.tv_sec, f->mtime_ns = st->st_mtim.tv_nsec;
	f->ctime_s = st->st_ctim.tv_sec, f->ctime_ns = st->st_ctim.tv_nsec;
}

/* One build: what is open and where. */
struct build {
	struct kctx *c;
	const char *ver;
	char variant[KNAME_MAX];
	char tmpname[KNAME_MAX + 32];
	int verfd, tmpfd;
	char debugfs[4096];
	struct manifest m;
};

/* --- checks of the original files --- */

/* The initramfs must be what the kernel can unpack: cpio archives and/or
 * one compressed stream that decompresses to a cpio. */
static int check_initramfs(struct build *b, int fd)
{
	struct stat st;
	struct ird_scan s;
	char why[256];
	int r = 0;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size == 0) {
		log_info("%s/%s/initramfs is empty: not an initramfs", b->c->dir, b->ver);
		return -EINVAL;
	}
	unsigned char *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return log_errno(-errno, "cannot read %s/%s/initramfs", b->c->dir, b->ver);
	if (initramfs_scan(p, (size_t)st.st_size, &s, why, sizeof(why)) < 0) {
		log_info("%s/%s/initramfs is not an initramfs the kernel can unpack: %s", b->c->dir, b->ver, why);
		r = -EINVAL;
	}
	munmap(p, (size_t)st.st_size);
	if (r < 0 || s.comp == IRD_NONE)
		return r;
	/* the compressed part: its first bytes must be a newc header */
	unsigned char head[6];
	size_t got;
	if (lseek(fd, (off_t)s.comp_offset, SEEK_SET) < 0)
		return -errno;
	r = kio_decompress_head(fd, s.comp, head, sizeof(head), &got);
	if (r == -ENOENT) {
		log_info("warning: no %s tool to check the %s part of %s/initramfs; its magic is right", ird_comp_name(s.comp),
			 ird_comp_name(s.comp), b->ver);
		return 0;
	}
	if (r < 0)
		return log_errno(r, "cannot check %s/%s/initramfs", b->c->dir, b->ver);
	if (got < 6 || (memcmp(head, "070701", 6) && memcmp(head, "070702", 6))) {
		log_info("%s/%s/initramfs is not an initramfs the kernel can unpack: its %s part at offset %llu does not "
			 "decompress to a cpio archive", b->c->dir, b->ver, ird_comp_name(s.comp),
			 (unsigned long long)s.comp_offset);
		return -EINVAL;
	}
	if (qvm_verbose)
		log_info("%s/initramfs: %zu uncompressed cpio part(s), then %s", b->ver, s.ncpio, ird_comp_name(s.comp));
	return 0;
}

static int check_modules_img(struct build *b, int fd)
{
	unsigned char sb[2048];
	ssize_t n = pread(fd, sb, sizeof(sb), 0);
	if (n < 0)
		return log_errno(-errno, "cannot read %s/%s/modules.img", b->c->dir, b->ver);
	if (!ext_magic_ok(sb, (size_t)n)) {
		log_info("%s/%s/modules.img is not an ext2/3/4 image (no superblock magic)", b->c->dir, b->ver);
		return -EINVAL;
	}
	return 0;
}

/* --- the patched initramfs --- */

/* The original's /init as the kernel would leave it: the last one in its
 * uncompressed archives, then in its compressed part. Kept in our cpio so
 * that stock mode runs it unchanged. */
struct orig_init {
	unsigned char *buf;     /* the decompressed part, when it came from there */
	struct newc_file f;
	bool found;
};

static int find_original_init(int fd, struct orig_init *o)
{
	struct stat st;
	struct ird_scan s;
	char why[256];
	int r;

	memset(o, 0, sizeof(*o));
	if (fstat(fd, &st) < 0)
		return -errno;
	unsigned char *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	r = initramfs_scan(p, (size_t)st.st_size, &s, why, sizeof(why));
	if (r == 0) {
		size_t plain = s.comp == IRD_NONE ? (size_t)st.st_size : (size_t)s.comp_offset;
		struct newc_file f;
		r = newc_find_last(p, plain, "init", &f);
		if (r == 0) {
			/* copied out: p goes away below */
			if (!(o->buf = malloc(f.size ? f.size : 1)))
				r = -ENOMEM;
			else {
				memcpy(o->buf, f.data, f.size);
				o->f = f, o->f.data = o->buf, o->found = true;
			}
		}
		if (r == -ENOENT)
			r = 0;
	}
	munmap(p, (size_t)st.st_size);
	if (r < 0 || s.comp == IRD_NONE)
		return r;
	unsigned char *d;
	size_t dlen;
	if (lseek(fd, (off_t)s.comp_offset, SEEK_SET) < 0)
		return -errno;
	if ((r = kio_decompress_all(fd, s.comp, KERNEL_ORIGINAL_INIT_MAX, &d, &dlen)) < 0)
		return r;
	struct newc_file f;
	r = newc_find_last(d, dlen, "init", &f);
	if (r == 0) {
		free(o->buf);
		o->buf = d, o->f = f, o->found = true;
		return 0;
	}
	free(d);
	return r == -ENOENT ? 0 : r;
}

/* Our cpio: the folders of the version file, /init, the version file, the
 * original /init when there is one. */
static int our_cpio(const struct kctx *c, const struct orig_init *o, char **buf, size_t *len)
{
	static const char *dirs[] = { "usr", "usr/lib", "usr/lib/qubes-ephemeral" };
	struct cpio_writer w;
	char version[sizeof(c->version) + 1];
	FILE *f = open_memstream(buf, len);
	int r = 0;

	if (!f)
		return -errno;
	snprintf(version, sizeof(version), "%s\n", c->version);
	cpio_init(&w, f);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		r = cpio_add_dir(&w, dirs[i], 0755);
	r = cpio_add_file(&w, "init", 0755, c->init, c->init_len);
	r = cpio_add_file(&w, KERNEL_VERSION_PATH, 0644, version, strlen(version));
	if (o->found && (o->f.mode & 0170000) == 0120000) {
		char target[4096];
		if (o->f.size >= sizeof(target))
			r = -ENAMETOOLONG;
		else {
			snprintf(target, sizeof(target), "%.*s", (int)o->f.size, (const char *)o->f.data);
			r = cpio_add_symlink(&w, KERNEL_ORIGINAL_INIT_PATH, target);
		}
	} else if (o->found) {
		r = cpio_add_file(&w, KERNEL_ORIGINAL_INIT_PATH, o->f.mode & 07777, o->f.data, o->f.size);
	}
	r = cpio_finish(&w);       /* errors stick: this one says if any failed */
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r < 0) {
		free(*buf);
		*buf = NULL;
	}
	return r;
}

/* tmp/initramfs = the lead archive when the original is gzip'ed (see
 * cpio.h: Xen's gunzip), then the original's bytes. */
static int copy_original(int srcfd, int dirfd, mode_t mode)
{
	unsigned char buf[65536];
	off_t off = 0;
	ssize_t n = pread(srcfd, buf, 2, 0);
	int r = 0, fd;

	if (n < 0)
		return -errno;
	if (!cpio_lead_needed(buf, (size_t)n))
		return kio_copy(srcfd, dirfd, "initramfs", mode);
	if ((fd = openat(dirfd, "initramfs", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)) < 0)
		return -errno;
	cpio_lead(buf);
	r = kio_write_all(fd, buf, CPIO_LEAD_SIZE);
	while (r == 0 && (n = pread(srcfd, buf, sizeof(buf), off)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = -errno;
		else if ((r = kio_write_all(fd, buf, (size_t)n)) == 0)
			off += n;
	}
	if (r == 0 && (fchmod(fd, mode) < 0 || fsync(fd) < 0))
		r = -errno;
	close(fd);
	return r;
}

/* tmp/initramfs = [lead], original bytes, zeros to 512, our cpio. */
static int write_initramfs(struct build *b, int srcfd, mode_t mode, uint64_t *cpio_offset)
{
	static const char zeros[512];
	struct stat st;
	char *cpio = NULL;
	size_t cpio_len;
	int r, fd;

	if ((r = copy_original(srcfd, b->tmpfd, mode)) < 0)
		return log_errno(r, "cannot copy %s/initramfs", b->ver);
	if ((fd = openat(b->tmpfd, "initramfs", O_WRONLY | O_APPEND | O_CLOEXEC)) < 0)
		return log_errno(-errno, "cannot open the new initramfs");
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	size_t pad = (size_t)((512 - (uint64_t)st.st_size % 512) % 512);
	*cpio_offset = (uint64_t)st.st_size + pad;
	if ((r = kio_write_all(fd, zeros, pad)) < 0)
		goto out;
	kio_test_kill("append");
	struct orig_init o;
	if ((r = find_original_init(srcfd, &o)) < 0) {
		log_errno(r, "cannot read the /init of %s/initramfs (to keep it for stock mode)", b->ver);
		goto out;
	}
	if (!o.found)
		log_info("warning: %s/initramfs has no /init; without qubes.ephemeral=1 the variant uses "
			 "ephemeral-init's own stock mode", b->ver);
	r = our_cpio(b->c, &o, &cpio, &cpio_len);
	free(o.buf);
	if (r < 0)
		goto out;
	if ((r = kio_write_all(fd, cpio, cpio_len)) < 0)
		goto out;
	if (fsync(fd) < 0)
		r = -errno;
out:
	if (r < 0)
		log_errno(r, "cannot write the new initramfs of %s", b->variant);
	free(cpio);
	close(fd);
	return r;
}

/* --- modules.img ---
 * The initramfs copy inside modules.img is replaced with e2fsprogs' debugfs,
 * which edits the image file directly: nothing is mounted in dom0 (no loop
 * device, no kernel ext3 driver parsing an image we did not make, no mount
 * namespace games), it works on a plain file, and e2fsprogs is installed in
 * every Qubes dom0 (Fedora) as in Debian. debugfs exits 0 even when a command
 * fails, so the result is checked afterwards: the copy is dumped back and
 * compared by sha256, and `e2fsck -fn` must find the image clean. */

static int debugfs_run(struct build *b, bool rw, const char *cmds, char **out)
{
	char *argv[] = { b->debugfs, rw ? "-w" : "-R", rw ? "-f" : (char *)cmds, rw ? "-" : "modules.img",
			 rw ? "modules.img" : NULL, NULL };
	int p[2] = { -1, -1 }, r;

	if (rw) {
		/* commands on stdin: paths with spaces in KERNELS_DIR never reach
		 * debugfs' command parser (it runs in the tmp folder, relative names) */
		if (pipe2(p, O_CLOEXEC) < 0)
			return -errno;
		r = kio_write_all(p[1], cmds, strlen(cmds));   /* a few bytes: fits the pipe */
		close(p[1]);
		if (r < 0) {
			close(p[0]);
			return r;
		}
	}
	r = kio_run(b->tmpfd, argv, p[0], out);
	if (p[0] >= 0)
		close(p[0]);
	return r;
}

static void log_tool_output(const char *out)
{
	if (!out)
		return;
	for (const char *p = out; *p;) {
		size_t n = strcspn(p, "\n");
		if (n && strncmp(p, "debugfs 1.", 10))
			fprintf(stderr, "    %.*s\n", (int)n, p);
		p += n + (p[n] == '\n');
	}
}

static int patch_modules_img(struct build *b, const char *initramfs_sha)
{
	char *out = NULL, sha[65];
	int r, fd;

	r = debugfs_run(b, false, "stat /initramfs", &out);
	if (r != 0 || !out || !strstr(out, "Type: regular")) {
		log_info("%s/%s/modules.img lacks the initramfs copy at its top level (that HVMs boot); "
			 "is it a Qubes modules.img?", b->c->dir, b->ver);
		if (qvm_verbose || r != 0)
			log_tool_output(out);
		free(out);
		return -EINVAL;
	}
	free(out);
	r = debugfs_run(b, true, "rm /initramfs\nwrite initramfs /initramfs\nsif /initramfs uid 0\nsif /initramfs gid 0\n",
			&out);
	kio_test_kill("debugfs");
	if (r != 0) {
		log_info("debugfs failed (exit %d) on the copy of %s/modules.img", r, b->ver);
		log_tool_output(out);
		free(out);
		return r < 0 ? r : -EIO;
	}
	char *wout = out;
	out = NULL;
	/* read it back: the bytes inside must be ours */
	r = debugfs_run(b, false, "dump /initramfs .initramfs-from-modules-img", &out);
	free(out);
	out = NULL;
	fd = openat(b->tmpfd, ".initramfs-from-modules-img", O_RDONLY | O_CLOEXEC);
	if (r != 0 || fd < 0 || kio_sha256_fd(fd, sha) < 0 || strcmp(sha, initramfs_sha)) {
		log_info("the initramfs inside the new modules.img is not the new initramfs (no room left in the image?); "
			 "debugfs said:");
		log_tool_output(wout);
		r = -EIO;
	} else {
		r = 0;
	}
	if (fd >= 0)
		close(fd);
	unlinkat(b->tmpfd, ".initramfs-from-modules-img", 0);
	free(wout);
	if (r < 0)
		return r;

	char e2fsck[4096];
	if (kio_find_tool("e2fsck", TEST_ENV("QVM_EPHEMERAL_E2FSCK"), e2fsck, sizeof(e2fsck)) < 0) {
		log_info("warning: e2fsck not found; the new modules.img was checked by content only");
		return 0;
	}
	char *argv[] = { e2fsck, "-fn", "modules.img", NULL };
	r = kio_run(b->tmpfd, argv, -1, &out);
	if (r != 0) {
		log_info("e2fsck -fn finds the new modules.img inconsistent (exit %d):", r);
		log_tool_output(out);
		r = -EIO;
	}
	free(out);
	return r;
}

/* --- the build --- */

static int write_manifest(struct build *b)
{
	char *text;
	int r = manifest_format(&b->m, &text), fd;
	if (r < 0)
		return r;
	fd = openat(b->tmpfd, KERNEL_MANIFEST, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		r = -errno;
	else {
		r = kio_write_all(fd, text, strlen(text));
		if (r == 0 && fsync(fd) < 0)
			r = -errno;
		close(fd);
	}
	free(text);
	return r;
}

/* Records VER's file name (open fd) in the manifest, sha256 included. */
static int record_src(struct build *b, const char *name, int fd)
{
	struct stat st;
	struct mfile *f = &b->m.src[b->m.nsrc];
	int r;

	if (fstat(fd, &st) < 0)
		return -errno;
	mfile_stat(f, name, &st);
	if ((r = kio_sha256_fd(fd, f->sha)) < 0)
		return r;
	b->m.nsrc++;
	return 0;
}

static int record_out(struct build *b, const char *name)
{
	struct stat st;
	struct mfile *f = &b->m.out[b->m.nout];
	int fd = openat(b->tmpfd, name, O_RDONLY | O_CLOEXEC), r = 0;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else {
		mfile_stat(f, name, &st);
		r = kio_sha256_fd(fd, f->sha);
	}
	close(fd);
	if (r == 0)
		b->m.nout++;
	return r;
}

/* Copies or patches every file; fills the manifest. */
static int make_files(struct build *b, char names[][KNAME_MAX], size_t n)
{
	int r = 0;
	bool copied = false;

	for (size_t i = 0; i < n && r == 0; i++) {
		const char *name = names[i];
		struct stat st;
		int fd = openat(b->verfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			return log_errno(-errno, "cannot open %s/%s/%s", b->c->dir, b->ver, name);
		if (fstat(fd, &st) < 0 || (r = record_src(b, name, fd)) < 0) {
			r = log_errno(r < 0 ? r : -errno, "cannot read %s/%s/%s", b->c->dir, b->ver, name);
		} else if (!strcmp(name, "initramfs")) {
			r = write_initramfs(b, fd, st.st_mode & 07777, &b->m.cpio_offset);
			if (r == 0)
				kio_test_kill("initramfs");
		} else if (!strcmp(name, "modules.img")) {
			r = kio_copy(fd, b->tmpfd, name, st.st_mode & 07777);
			if (r < 0)
				log_errno(r, "cannot copy %s/%s", b->ver, name);
			else
				kio_test_kill("modules-copy");
		} else {
			r = kio_copy(fd, b->tmpfd, name, st.st_mode & 07777);
			if (r < 0)
				log_errno(r, "cannot copy %s/%s", b->ver, name);
			else if (!copied)
				kio_test_kill("copy"), copied = true;
		}
		close(fd);
	}
	if (r < 0)
		return r;
	/* modules.img last: it needs the patched initramfs */
	char ird_sha[65] = "";
	for (size_t i = 0; i < n && r == 0; i++)
		if (strcmp(names[i], "modules.img") && (r = record_out(b, names[i])) == 0 &&
		    !strcmp(names[i], "initramfs"))
			memcpy(ird_sha, b->m.out[b->m.nout - 1].sha, sizeof(ird_sha));
	if (r < 0)
		return log_errno(r, "cannot read back the new files of %s", b->variant);
	if ((r = patch_modules_img(b, ird_sha)) < 0)
		return r;
	if ((r = record_out(b, "modules.img")) < 0)
		return log_errno(r, "cannot read back the new modules.img");
	return 0;
}

/* VER's files must not have changed while we read them. */
static int sources_unchanged(struct build *b)
{
	for (size_t i = 0; i < b->m.nsrc; i++) {
		const struct mfile *f = &b->m.src[i];
		struct stat st;
		if (fstatat(b->verfd, f->name, &st, 0) < 0 || (uint64_t)st.st_size != f->size ||
		    (uint64_t)st.st_ino != f->ino || st.st_mtim.tv_sec != f->mtime_s ||
		    st.st_mtim.tv_nsec != f->mtime_ns || st.st_ctim.tv_sec != f->ctime_s ||
		    st.st_ctim.tv_nsec != f->ctime_ns) {
			log_info("%s/%s/%s changed while the variant was made (package update?); run it again",
				 b->c->dir, b->ver, f->name);
			return -EAGAIN;
		}
	}
	return 0;
}

/* tmp -> variant, atomically (see the top of this file). */
static int swap_in(struct build *b)
{
	const struct kctx *c = b->c;
	struct stat st;
	int r;

	if (fstatat(c->dirfd, b->variant, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return log_errno(-errno, "cannot stat %s/%s", c->dir, b->variant);
		r = renameat2(c->dirfd, b->tmpname, c->dirfd, b->variant, RENAME_NOREPLACE);
		if (r < 0 && (errno == EINVAL || errno == ENOSYS))
			r = renameat(c->dirfd, b->tmpname, c->dirfd, b->variant);
		if (r < 0)
			return log_errno(-errno, "cannot rename %s to %s in %s", b->tmpname, b->variant, c->dir);
		return 0;
	}
	/* test hook: QVM_EPHEMERAL_TEST_NO_EXCHANGE=1 takes the fallback path */
	const char *no_exchange = TEST_ENV("QVM_EPHEMERAL_TEST_NO_EXCHANGE");
	if (no_exchange && *no_exchange)
		errno = EINVAL;
	else if (renameat2(c->dirfd, b->tmpname, c->dirfd, b->variant, RENAME_EXCHANGE) == 0) {
		kio_test_kill("exchanged");
		fsync(c->dirfd);
		if ((r = kio_rm_rf(c->dirfd, b->tmpname)) < 0)
			log_errno(r, "warning: cannot remove the previous variant (now %s/%s)", c->dir, b->tmpname);
		return 0;
	}
	if (errno != EINVAL && errno != ENOSYS)
		return log_errno(-errno, "cannot exchange %s and %s in %s", b->tmpname, b->variant, c->dir);
	/* no RENAME_EXCHANGE on this file system: two renames */
	char old[KNAME_MAX + 48];
	snprintf(old, sizeof(old), "%s/.%s.old.XXXXXX", c->dir, b->variant);
	if (!mkdtemp(old))
		return log_errno(-errno, "cannot make a folder in %s", c->dir);
	const char *oldname = strrchr(old, '/') + 1;
	if (renameat(c->dirfd, b->variant, c->dirfd, oldname) < 0) {
		r = log_errno(-errno, "cannot move %s aside", b->variant);
		unlinkat(c->dirfd, oldname, AT_REMOVEDIR);
		return r;
	}
	kio_test_kill("old-away");
	if (renameat(c->dirfd, b->tmpname, c->dirfd, b->variant) < 0) {
		r = log_errno(-errno, "cannot rename %s to %s", b->tmpname, b->variant);
		renameat(c->dirfd, oldname, c->dirfd, b->variant);   /* put the old one back */
		return r;
	}
	fsync(c->dirfd);
	kio_rm_rf(c->dirfd, oldname);
	return 0;
}

int variant_build(struct kctx *c, const char *ver)
{
	struct build b = { .c = c, .ver = ver, .verfd = -1, .tmpfd = -1 };
	char names[MANIFEST_MAX_FILES][KNAME_MAX];
	size_t n;
	int r;
	bool has[3] = { false, false, false };
	static const char *need[3] = { "vmlinuz", "initramfs", "modules.img" };

	if ((r = kernel_variant_name(ver, b.variant, sizeof(b.variant))) < 0) {
		log_info("invalid kernel name \"%s\"", ver);
		return r;
	}
	if (kio_find_tool("debugfs", TEST_ENV("QVM_EPHEMERAL_DEBUGFS"), b.debugfs, sizeof(b.debugfs)) < 0) {
		log_info("cannot make %s: debugfs not found (install e2fsprogs); it replaces the initramfs copy inside "
			 "modules.img", b.variant);
		return -ENOENT;
	}
	b.verfd = openat(c->dirfd, ver, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b.verfd < 0) {
		r = -errno;
		if (r == -ENOENT)
			log_info("cannot make %s: no kernel %s in %s", b.variant, ver, c->dir);
		else
			log_errno(r, "cannot make %s: cannot open %s/%s", b.variant, c->dir, ver);
		return r;
	}
	if ((r = kernel_list_files(b.verfd, names, MANIFEST_MAX_FILES, &n)) < 0) {
		log_errno(r, "cannot list %s/%s", c->dir, ver);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < 3; k++)
			has[k] |= !strcmp(names[i], need[k]);
	for (int k = 0; k < 3; k++) {
		if (!has[k]) {
			log_info("cannot make %s: %s/%s has no %s%s", b.variant, c->dir, ver, need[k],
				 k == 0 ? " (not a kernel)" : k == 2 ? " (Qubes cannot start a qube with it either)" : "");
			r = -ENOENT;
			goto out;
		}
	}
	/* checks before writing anything */
	for (int k = 1; k < 3; k++) {
		int fd = openat(b.verfd, need[k], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			r = log_errno(-errno, "cannot open %s/%s/%s", c->dir, ver, need[k]);
			goto out;
		}
		r = k == 1 ? check_initramfs(&b, fd) : check_modules_img(&b, fd);
		close(fd);
		if (r < 0) {
			log_info("nothing written: %s not made", b.variant);
			goto out;
		}
	}

	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.XXXXXX", c->dir, b.variant) >= sizeof(tmp)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	if (!mkdtemp(tmp)) {
		r = log_errno(-errno, "cannot make a folder in %s", c->dir);
		goto out;
	}
	snprintf(b.tmpname, sizeof(b.tmpname), "%s", strrchr(tmp, '/') + 1);
	kio_test_kill("tmpdir");
	if ((b.tmpfd = openat(c->dirfd, b.tmpname, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = log_errno(-errno, "cannot open %s", tmp);
		goto fail;
	}
	fchmod(b.tmpfd, 0755);
	snprintf(b.m.tool, sizeof(b.m.tool), "%s", KERNEL_TOOL_VERSION);
	snprintf(b.m.base, sizeof(b.m.base), "%s", ver);
	snprintf(b.m.version, sizeof(b.m.version), "%s", c->version);
	memcpy(b.m.init_sha, c->init_sha, sizeof(b.m.init_sha));
	if ((r = make_files(&b, names, n)) < 0)
		goto fail;
	if ((r = write_manifest(&b)) < 0) {
		log_errno(r, "cannot write the manifest of %s", b.variant);
		goto fail;
	}
	if (fsync(b.tmpfd) < 0) {
		r = log_errno(-errno, "cannot sync %s", tmp);
		goto fail;
	}
	kio_test_kill("manifest");
	if ((r = sources_unchanged(&b)) < 0)
		goto fail;
	if ((r = swap_in(&b)) < 0)
		goto fail;
	if (fsync(c->dirfd) < 0)
		r = log_errno(-errno, "cannot sync %s", c->dir);
	goto out;
fail:
	kio_rm_rf(c->dirfd, b.tmpname);
	log_info("%s not made; %s left as it was", b.variant, c->dir);
out:
	if (b.tmpfd >= 0)
		close(b.tmpfd);
	if (b.verfd >= 0)
		close(b.verfd);
	return r;
}

int variant_refresh_manifest(struct kctx *c, const char *variant, struct manifest *m)
{
	char *text, tmpname[KNAME_MAX + 32];
	int vfd, fd, r;

	if ((r = manifest_format(m, &text)) < 0)
		return r;
	if ((vfd = openat(c->dirfd, variant, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		free(text);
		return -errno;
	}
	snprintf(tmpname, sizeof(tmpname), "%s.new", KERNEL_MANIFEST);
	unlinkat(vfd, tmpname, 0);
	fd = openat(vfd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
	} else {
		r = kio_write_all(fd, text, strlen(text));
		if (r == 0 && fsync(fd) < 0)
			r = -errno;
		close(fd);
		if (r == 0 && renameat(vfd, tmpname, vfd, KERNEL_MANIFEST) < 0)
			r = -errno;
		if (r < 0)
			unlinkat(vfd, tmpname, 0);
		else
			fsync(vfd);
	}
	close(vfd);
	free(text);
	return r;
}

void variant_cleanup(struct kctx *c)
{
	int fd = dup(c->dirfd);
	DIR *d;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	for (struct dirent *e; (e = readdir(d));) {
		const char *nm = e->d_name;
		const char *mark = strstr(nm, KERNEL_SUFFIX ".tmp."), *old = strstr(nm, KERNEL_SUFFIX ".old.");
		if (nm[0] != '.' || (!mark && !old))
			continue;
		if (old) {
			/* killed between the two renames: the old variant is all there is */
			char variant[KNAME_MAX];
			struct stat st;
			snprintf(variant, sizeof(variant), "%.*s", (int)(old - nm - 1 + strlen(KERNEL_SUFFIX)), nm + 1);
			if (fstatat(c->dirfd, variant, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT &&
			    renameat(c->dirfd, nm, c->dirfd, variant) == 0) {
				if (!qvm_quiet)
					printf("%s: restored from %s (a previous run was interrupted)\n", variant, nm);
				continue;
			}
		}
		int r = kio_rm_rf(c->dirfd, nm);
		if (r < 0)
			log_errno(r, "cannot remove the leftover %s/%s", c->dir, nm);
		else if (!qvm_quiet)
			printf("removed %s/%s (left by an interrupted run)\n", c->dir, nm);
	}
	closedir(d);
	fsync(c->dirfd);
}
