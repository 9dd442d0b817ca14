/* SHA-256 (FIPS 180-4). Used only to report a fingerprint of the volatile
 * key in test builds, so a memory scan can look for the key without the key
 * ever leaving the guest. */
#pragma once
#include <stddef.h>
#include <stdint.h>

void sha256(const void *data, size_t len, uint8_t out[32]);
