/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The storage stack's kernel modules, named once: ephemeral-init loads them
 * (load_stack_modules) and a kernel variant carries them in our archive
 * (carry_list). */
#pragma once

/* in load order: AES-NI before dm-crypt, whose table keeps the AES
 * implementation it got when it loaded */
enum { STACK_DM, STACK_AESNI, STACK_CRYPT, STACK_THIN, STACK_MODULES };
extern const char *const stack_module_names[STACK_MODULES];

/* without AES-NI: the xts and ecb templates over the built-in generic AES */
enum { STACK_GENERIC_XTS = 2 };
extern const char *const stack_generic_xts_names[STACK_GENERIC_XTS];
