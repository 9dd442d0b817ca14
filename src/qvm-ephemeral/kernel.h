/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qvm-ephemeral kernel: ephemeral variants of dom0-provided kernels.
 *
 * KERNELS_DIR/VER/ is never written. KERNELS_DIR/VER-ephemeral/ holds:
 *   vmlinuz, default-kernelopts-*.txt, memory-hotplug-supported, ...  copies
 *   initramfs    VER's bytes, zeros to 512, then our uncompressed newc cpio
 *                (init = ephemeral-init, usr/lib/qubes-ephemeral/version,
 *                usr/lib/qubes-ephemeral/original-init = VER's own /init)
 *   modules.img  VER's image whose top-level `initramfs` (the copy HVMs boot
 *                through the stubdomain) is the initramfs above
 *   .qubes-ephemeral-source  the manifest: what it was made from (below)
 *
 * Files: kernel.c (commands), kernel_build.c (making one variant, with
 * kernel_origin.c, kernel_initramfs.c, kernel_modimg.c, kernel_manifest.c,
 * kernel_swap.c), kernel_check.c (is a variant current?), kernel_io.c (file
 * and process helpers), kernel_scan.c (pure parsers, unit tested). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "appender.h"   /* enum ird_comp, APPEND_VERSION_PATH */
#include "carry.h"      /* CARRY_MAX */
#include "record.h"     /* VARIANT_SUFFIX, kernel_variant_name */

#ifndef QE_VERSION
#error "QE_VERSION is passed by the Makefile from the file `version`"
#endif
#define KERNEL_TOOL_VERSION QE_VERSION
#define KERNEL_INIT_DEFAULT "/usr/lib/qubes-ephemeral/ephemeral-init"
#define KERNEL_MANIFEST ".qubes-ephemeral-source"
/* the original initramfs' /init, kept: ephemeral-init runs it in stock
 * mode (src/ephemeral-init/init.h ORIGINAL_INIT, the same path) */
#define KERNEL_ORIGINAL_INIT_PATH "usr/lib/qubes-ephemeral/original-init"
#define KERNEL_ORIGINAL_INIT_MAX ((size_t)1 << 30)  /* decompressed initramfs bytes read to find it */
/* exit code of `kernel sync` when an original folder is still being
 * written (package install in progress): the service retries later */
#define KERNEL_EXIT_RETRY 75
/* an original folder without vmlinuz/initramfs/modules.img that changed
 * less than this ago is taken as "being installed", not as broken */
#define KERNEL_SETTLE_SECONDS 600

/* For engine.c (enable/apply): makes or refreshes the variant of ver under
 * kernels_dir unless it is current, or exists and was not made by us. The
 * init binary is KERNEL_INIT_DEFAULT ($QVM_EPHEMERAL_INIT in the test build). Writes the
 * variant's name to variant_name. Prints one line on failure; returns 0 or
 * negative errno. */
int kernel_variant_ensure(const char *kernels_dir, const char *ver, char *variant_name, size_t len);

/* --- shared between the kernel_*.c files --- */

struct kctx {
	const char *dir;        /* KERNELS_DIR */
	int dirfd;              /* open, flock'ed for add/sync */
	const char *init_path;
	unsigned char *init;    /* the ephemeral-init binary, NULL when not loaded */
	size_t init_len;
	char init_sha[65];      /* "" when unknown */
	char version[160];      /* "qubes-ephemeral 0.1 init-sha256=HEX" */
};

/* Loads ctx->init_path into ctx (init, init_len, init_sha, version).
 * quiet: no message on failure. */
int kctx_load_init(struct kctx *c, bool quiet);

/* --- the manifest (kernel_scan.c) --- */

#define MANIFEST_MAX_FILES 32
#define KNAME_MAX 256

struct mfile {
	char name[KNAME_MAX];
	uint64_t size, ino;
	int64_t mtime_s, mtime_ns, ctime_s, ctime_ns;
	char sha[65];
};

struct manifest {
	char tool[32];          /* KERNEL_TOOL_VERSION that made it */
	char base[KNAME_MAX];   /* VER */
	char version[160];      /* what the cpio's version file says (no newline) */
	char init_sha[65];
	uint64_t cpio_offset;   /* where our cpio starts in the variant's initramfs */
	size_t nsrc, nout;
	struct mfile src[MANIFEST_MAX_FILES];  /* files of VER/ it was made from */
	struct mfile out[MANIFEST_MAX_FILES];  /* files of the variant (size, sha) */
};

/* Text form, one record a line; names are the rest of their line. */
int manifest_format(const struct manifest *m, char **text);   /* malloc'd */
int manifest_parse(const char *text, struct manifest *m);     /* -EBADMSG */

/* --- pure parsers (kernel_scan.c) --- */


struct ird_scan {
	size_t ncpio;           /* uncompressed cpio archives walked (early microcode, ...) */
	enum ird_comp comp;     /* compressed part after them, IRD_NONE if none */
	uint64_t comp_offset;   /* where it starts */
};

/* Walks an initramfs as the kernel unpacks it: uncompressed newc archives
 * (each checked to its TRAILER!!!, starting 4-byte aligned), NUL padding,
 * until the first compressed stream (recognised by its magic; its content
 * is checked by the caller). Returns 0, or -EINVAL with why filled. */
int initramfs_scan(const unsigned char *b, size_t len, struct ird_scan *s, char *why, size_t whylen);

/* Finds a regular file in one newc archive at b. Returns 0 with *data and
 * *dlen, -ENOENT when the archive ends without it, -EINVAL when b is not
 * a well-formed newc archive. */
int newc_find(const unsigned char *b, size_t len, const char *name, const unsigned char **data, size_t *dlen);

/* The file or symlink the kernel leaves at path name (relative, e.g.
 * "init"; entries "./init" and "/init" count) after unpacking the
 * concatenated newc archives at b (NUL padding between them): the last
 * entry of that name wins. 0 with *f (data inside b), -ENOENT when there is
 * none (or the last is neither a file nor a symlink), -EINVAL when b is not
 * such archives. */
struct newc_file {
	const unsigned char *data;  /* file bytes, or the symlink's target (not NUL-terminated) */
	size_t size;
	uint32_t mode;
};
int newc_find_last(const unsigned char *b, size_t len, const char *name, struct newc_file *f);

/* true when b (at least 1024 + 58 bytes from the image start) holds an
 * ext2/3/4 superblock magic. */
bool ext_magic_ok(const unsigned char *b, size_t len);


void sha_hex(const uint8_t d[32], char out[65]);


/* --- files and processes (kernel_io.c) --- */

/* Copies src to a new file dst (O_EXCL) in dstdir: reflink when the file
 * system can, else data extents only (holes stay holes). mode as given. */
int kio_copy(int srcfd, int dstdirfd, const char *dst, mode_t mode);
/* sha256 of a whole open file (read from offset 0). */
int kio_sha256_fd(int fd, char out[65]);
int kio_fsync_at(int dirfd, const char *name);
/* rm -r name under dirfd (files and folders only, no symlink following). */
int kio_rm_rf(int dirfd, const char *name);
/* Full path of a tool: override when not NULL or empty (a test hook), else
 * PATH, /usr/sbin, /sbin. */
int kio_find_tool(const char *name, const char *override, char *out, size_t n);
/* Runs argv (argv[0] a full path) in cwd dirfd with input (NULL: none) on
 * its stdin, LC_ALL=C; its stdout+stderr go to *output (malloc'd, may be
 * NULL). Returns the exit status (>= 0) or negative errno. */
int kio_run(int cwdfd, char *const argv[], const char *input, char **output);
/* Decompresses from fd's current offset with the tool for comp and returns
 * its first n bytes (fewer when the stream is shorter). -ENOENT: no tool. */
int kio_decompress_head(int fd, enum ird_comp comp, unsigned char *buf, size_t n, size_t *got);
/* All of the compressed stream at fd's offset, decompressed by the same
 * tool, into *buf (malloc'd, *got bytes); -EFBIG past max bytes, -ENOENT
 * when the tool is missing, -EIO when it fails. */
int kio_decompress_all(int fd, enum ird_comp comp, size_t max, unsigned char **buf, size_t *got);

/* The regular files of an original folder a variant carries (hidden ones,
 * folders and the variant's own manifest excluded), sorted. */
int kernel_list_files(int verfd, char names[][KNAME_MAX], size_t max, size_t *n);

/* Test hook: with QVM_EPHEMERAL_TEST_KILL_AT=STEP in the environment the
 * process SIGKILLs itself when it reaches STEP (see kernel_build.c). */
void kio_test_kill(const char *step);

/* --- building and checking (kernel_build.c, kernel_check.c) --- */


enum vstate { VS_CURRENT, VS_STALE, VS_ORPHAN, VS_FOREIGN, VS_BROKEN };
const char *vstate_name(enum vstate s);

struct vcheck {
	enum vstate st;
	char why[256];          /* for stale / broken / orphan */
	char version[160];      /* read from the variant's cpio, "" if unknown */
	bool touched;           /* current, but the manifest's stat data is old */
	struct manifest m;
};

/* Judges KERNELS_DIR/variant. c->init_sha "" = do not compare the init. */
int variant_check(const struct kctx *c, const char *variant, struct vcheck *v);

/* Makes KERNELS_DIR/VER-ephemeral from VER (replacing what is there) and
 * puts it in place atomically. ctx must be locked and have its init. */
int variant_build(struct kctx *c, const char *ver);

/* Writes dirfd/initramfs (new, mode) = the appender's output (appender.h)
 * for srcfd with c's init and version and the extra files (the carried
 * modules; may be none); *cpio_offset = where our archive starts.
 * Negative errno as append_initramfs. */
int variant_write_initramfs(const struct kctx *c, int srcfd, int dirfd, mode_t mode, const struct append_file *extra,
			    size_t nextra, uint64_t *cpio_offset);

/* --- the parts of one build (kernel_build.c calls them in order) --- */

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

/* kernel_origin.c: VER's initramfs / modules.img (open fd) are what a
 * variant can be made from; one line printed when not. */
int build_check_initramfs(struct build *b, int fd);
int build_check_modules_img(struct build *b, int fd);
/* kernel_modimg.c: the storage stack's modules from VER's modules.img
 * (lib/carry.h), as files for our archive. Always 0: when they cannot be
 * read, a warning and none (the VMs then load them from the modules disk). */
int build_carry_modules(struct build *b, struct carry_set *m);
/* kernel_initramfs.c: tmp/initramfs from VER's (srcfd); b->m.cpio_offset */
int build_write_initramfs(struct build *b, int srcfd, mode_t mode, uint64_t *cpio_offset);
/* kernel_modimg.c: tmp/modules.img's initramfs copy := tmp/initramfs
 * (whose sha256 is initramfs_sha), checked by reading it back and e2fsck. */
int build_patch_modules_img(struct build *b, const char *initramfs_sha);
/* kernel_manifest.c: the manifest records of VER's file (open fd) and of
 * a new file; the manifest itself; VER unchanged since it was recorded. */
int build_record_src(struct build *b, const char *name, int fd);
int build_record_out(struct build *b, const char *name);
int build_write_manifest(struct build *b);
int build_sources_unchanged(struct build *b);
/* kernel_swap.c: tmp -> variant, atomically (see kernel_swap.c). */
int build_swap_in(struct build *b);

/* Rewrites only the manifest of a current variant (stat data refreshed). */
int variant_refresh_manifest(struct kctx *c, const char *variant, struct manifest *m);

/* Removes leftovers of killed runs (.NAME.tmp.*; .NAME.old.* is put back
 * when NAME is missing). ctx must be locked. */
void variant_cleanup(struct kctx *c);

/* Which qubes use a kernel: 0 and the names, or negative errno when that
 * cannot be known (qubesd unreachable). Replaceable for tests. */
extern int (*kernel_variant_users)(const char *variant, char ***names, size_t *n);
