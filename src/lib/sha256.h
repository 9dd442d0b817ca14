/* SPDX-License-Identifier: GPL-2.0-or-later */
/* SHA-256 (FIPS 180-4): one-shot and incremental (files hashed with read()).
 * ephemeral-init uses it only for the test build's key fingerprint; the dom0
 * tool for kernel file manifests. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct sha256_ctx {
	uint32_t s[8];
	uint64_t len;      /* bytes so far */
	uint8_t buf[64];
	size_t nbuf;
};

void sha256_init(struct sha256_ctx *h);
void sha256_update(struct sha256_ctx *h, const void *data, size_t n);
void sha256_final(struct sha256_ctx *h, uint8_t out[32]);   /* wipes h */
void sha256(const void *data, size_t len, uint8_t out[32]);
