/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The volatile key: 512 random bits that only the kernel keeps.
 *
 * Made with getrandom() into one mlock'ed buffer, handed to the kernel as a
 * "logon" key (which user space can never read back), referenced by the
 * dm-crypt table, and wiped from our memory right after. Once dm-crypt has
 * copied it into its cipher context the keyring entry is invalidated too. */
#include <errno.h>
#include <linux/keyctl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "init.h"
#include "log.h"
#include "sha256.h"

static long sys_add_key(const char *type, const char *desc, const void *payload,
			size_t len, int32_t keyring)
{
	return syscall(SYS_add_key, type, desc, payload, len, keyring);
}

static long sys_keyctl(int cmd, unsigned long a, unsigned long b)
{
	return syscall(SYS_keyctl, cmd, a, b, 0, 0);
}

/* Returns the key's serial (> 0), or a negative errno with c->why set. */
int key_load(struct ctx *c)
{
	static uint8_t key[KEY_BYTES] __attribute__((aligned(64)));
	int r;

	if (mlock(key, sizeof(key)) < 0)
		return step_fail(c, -errno, "cannot lock the key buffer in memory");
	size_t got = 0;
	while (got < sizeof(key)) {
		/* blocks until the kernel's pool is initialised: never a weak key */
		ssize_t n = getrandom(key + got, sizeof(key) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			explicit_bzero(key, sizeof(key));
			munlock(key, sizeof(key));
			return step_fail(c, r, "getrandom failed");
		}
		got += (size_t)n;
	}
#if TEST_HOOKS
	if (c->opt.test_keyhash) {
		/* test builds only: a fingerprint lets a memory dump be searched
		 * for the key without the key itself ever being printed */
		uint8_t d[32];
		char hex[65];
		sha256(key, sizeof(key), d);
		for (int i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", d[i]);
		log_info("TEST keyhash=%s", hex);
		explicit_bzero(d, sizeof(d));
	}
	if (c->opt.test_fail == FAIL_KEY) {
		explicit_bzero(key, sizeof(key));
		munlock(key, sizeof(key));
		return step_fail(c, -ECANCELED, "key: injected failure (qubes.ephemeral.test.fail=key)");
	}
#endif
	/* the process keyring: searched by dm-crypt's request_key() in our context */
	long id = sys_add_key("logon", KEY_DESC, key, sizeof(key), KEY_SPEC_PROCESS_KEYRING);
	r = id < 0 ? -errno : (int)id;
	explicit_bzero(key, sizeof(key));
	munlock(key, sizeof(key));
	if (r < 0)
		return step_fail(c, r, "cannot add the key to the kernel keyring (CONFIG_KEYS)");
	return r;
}

void key_forget(int key_id)
{
	if (key_id <= 0)
		return;
	/* invalidate: gone from /proc/keys and freed at once, not at exit */
	if (sys_keyctl(KEYCTL_INVALIDATE, (unsigned long)key_id, 0) < 0)
		log_errno(-errno, "cannot invalidate key %d", key_id);
	sys_keyctl(KEYCTL_UNLINK, (unsigned long)key_id, (unsigned long)KEY_SPEC_PROCESS_KEYRING);
}
