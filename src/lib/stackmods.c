/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "stackmods.h"

const char *const stack_module_names[STACK_MODULES] = {
	[STACK_DM] = "dm-mod",
	[STACK_AESNI] = "aesni-intel",
	[STACK_CRYPT] = "dm-crypt",
	[STACK_THIN] = "dm-thin-pool",
};

/* ecb first: xts(aes) is built over ecb(aes) */
const char *const stack_generic_xts_names[STACK_GENERIC_XTS] = { "ecb", "xts" };
