/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What qvm-ephemeral knows of a qube, read through the Admin API
 * (qubesd_call); the parsers of qubesd's reply texts are pure and unit
 * tested. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "record.h"

#define NAME_MAX_Q 64

struct qprop {
	bool present;      /* the qube has this property */
	bool is_default;
	char value[PROP_MAX];
};

struct qvol {
	bool present;
	bool rw, ephemeral, snap_on_start, save_on_stop;
};

struct qube {
	char name[NAME_MAX_Q], klass[32], state[32];
	struct qprop kernel, kernelopts, virt_mode, template, template_for_dispvms, auto_cleanup;
	struct qvol root, private, volatile_;
	bool props_loaded, vols_loaded, record_loaded;
	bool has_record;       /* the record feature is set ... */
	bool record_bad;       /* ... but could not be read (record_err says why) */
	char record_err[160];
	char record_text[4 * PROP_MAX]; /* the feature's value as read */
	struct record rec;
};

struct qube_list {
	struct qube *v;
	size_t n;
};

/* admin.vm.List of every qube (dom0 included). Returns 0 or negative errno. */
int qubes_list(struct qube_list *l);
/* admin.vm.List with another destination: that qube only. */
int qubes_list_dest(const char *dest, struct qube_list *l);
void qubes_free(struct qube_list *l);
struct qube *qubes_find(const struct qube_list *l, const char *name);

/* Load properties (GetAll, or Get one by one when GetAll is not allowed),
 * volumes root/private/volatile (Info), and the record feature. Each is done
 * once; a failure prints one line and returns negative errno. */
int qube_load_props(struct qube *q);
int qube_load_vols(struct qube *q);
int qube_load_record(struct qube *q);
int qube_load(struct qube *q);

bool qube_is_halted(const struct qube *q);
bool qube_is_disposable_template(const struct qube *q);
/* A DispVM that is not removed at shutdown (named disposable). */
bool qube_is_named_disposable(const struct qube *q);

#define KERNEL_POOL "linux-kernel"

/* The folder of the linux-kernel pool (admin.pool.Info: dir_path). Prints
 * one line and returns negative errno when qubesd cannot say. */
int kernel_pool_dir(char *dir, size_t n);

/* Kernel names in the linux-kernel pool (cached after the first call). */
bool kernel_pool_has(const char *name);
void kernel_pool_forget(void);

/* Which qubes use kernel (effective value of their kernel property).
 * *names is a malloc'd array of malloc'd names; free with qubes_names_free. */
int qubes_using_kernel(const char *kernel, char ***names, size_t *n);
void qubes_names_free(char **names, size_t n);

/* --- pure parsers --- */
int parse_vm_list(const char *text, struct qube_list *l);
/* "default=True type=str VALUE" (admin.vm.property.Get) */
int parse_property(const char *text, struct qprop *p);
/* admin.vm.property.GetAll: "NAME default=… type=… VALUE\n" per property,
 * backslash and newline escaped; fills the properties qube knows. */
int parse_getall(const char *text, struct qube *q);
/* admin.vm.volume.Info: "key=value" lines */
int parse_volume_info(const char *text, struct qvol *v);
/* admin.pool.Info: the "dir_path=" line into dir. -ENOENT without one,
 * -EPROTO when it is not absolute or does not fit. */
int parse_pool_dir(const char *info, char *dir, size_t n);
/* "True"/"False" */
int parse_pybool(const char *s);
