/* SPDX-License-Identifier: GPL-2.0-or-later */
/* systemd unit names for paths ("/dev/xvdc1" -> "dev-xvdc1.swap"), as
 * `systemd-escape --path --suffix=swap` makes them. Pure. */
#pragma once
#include <stddef.h>

/* 0, or -ENAMETOOLONG when out is too small, -EINVAL for a path that is
 * not absolute or has an empty component. */
int unit_name_from_path(const char *path, const char *suffix, char *out, size_t outlen);
