/* libFuzzer: fstab_rewrite keeps every byte it does not mean to change. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fstab.h"

static size_t count_newlines(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += s[i] == '\n';
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the first byte picks the rewrite, so both swap modes are covered */
	struct fstab_rewrite rw = {
		.private_old = "/dev/xvdb",
		.private_new = "/dev/mapper/ephemeral-private",
		.swap_old = "/dev/xvdc1",
		.swap_new = "/dev/mapper/ephemeral-swap",
	};
	char *out = NULL;
	size_t outlen = 0;

	if (size && (data[0] & 1))
		rw.swap_new = NULL;
	if (size && (data[0] & 2))
		rw.private_old = "b";  /* short names: more matches */
	const char *in = (const char *)data + (size ? 1 : 0);
	size_t len = size ? size - 1 : 0;
	int r = fstab_rewrite(in, len, &rw, &out, &outlen);
	if (r < 0)
		return 0;
	if (!out || out[outlen] != '\0')
		abort();
	if (count_newlines(in, len) != count_newlines(out, outlen))
		abort();
	if (r == 0 && (outlen != len || memcmp(in, out, len) != 0))
		abort();
	if (r > 0 && outlen == len && memcmp(in, out, len) == 0)
		abort();
	free(out);
	return 0;
}
