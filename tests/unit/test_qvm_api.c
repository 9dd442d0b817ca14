/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qvm-ephemeral/qubesd.c and qube.c: Admin API framing and reply texts. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qube.h"
#include "qubesd.h"

static void request_header(void **state)
{
	(void)state;
	char b[128];
	int n = qubesd_format_request(b, sizeof(b), "admin.vm.property.Get", "work", "kernel");
	assert_int_equal(n, (int)sizeof("admin.vm.property.Get+kernel dom0 name work"));
	assert_memory_equal(b, "admin.vm.property.Get+kernel dom0 name work\0", n);
	n = qubesd_format_request(b, sizeof(b), "admin.vm.List", "dom0", NULL);
	assert_string_equal(b, "admin.vm.List dom0 name dom0");
	assert_int_equal(qubesd_format_request(b, sizeof(b), "admin.vm.List", "dom0", ""), n);
	/* fields that would break the frame */
	assert_int_equal(qubesd_format_request(b, sizeof(b), "admin.vm.List", "a b", NULL), -EINVAL);
	assert_int_equal(qubesd_format_request(b, sizeof(b), "admin.vm.List", "", NULL), -EINVAL);
	assert_int_equal(qubesd_format_request(b, sizeof(b), "a+b", "dom0", NULL), -EINVAL);
	assert_int_equal(qubesd_format_request(b, sizeof(b), "m", "dom0", "x\ny"), -EINVAL);
	assert_int_equal(qubesd_format_request(b, 10, "admin.vm.List", "dom0", NULL), -ENAMETOOLONG);
}

static void pool_dir(void **state)
{
	(void)state;
	char d[64];
	/* core-admin's admin.pool.Info: sorted config lines, then size/usage */
	assert_int_equal(parse_pool_dir("dir_path=/var/lib/qubes/vm-kernels\ndriver=linux-kernel\nname=linux-kernel\n",
					d, sizeof(d)), 0);
	assert_string_equal(d, "/var/lib/qubes/vm-kernels");
	assert_int_equal(parse_pool_dir("driver=linux-kernel\nname=linux-kernel\n", d, sizeof(d)), -ENOENT);
	assert_int_equal(parse_pool_dir("dir_path=relative\n", d, sizeof(d)), -EPROTO);
	assert_int_equal(parse_pool_dir("dir_path=/a/very/long/folder/name/that/does/not/fit/in/the/sixty/four/bytes\n", d,
					sizeof(d)), -EPROTO);
	assert_int_equal(parse_pool_dir("", d, sizeof(d)), -ENOENT);
}

static void replies(void **state)
{
	(void)state;
	const char *c;
	size_t cl;
	struct qubesd_error e;
	static const char ok[] = "0\0default=True type=str 6.1.0";
	assert_int_equal(qubesd_parse_reply(ok, sizeof(ok) - 1, &c, &cl, &e), 0);
	assert_int_equal(cl, strlen("default=True type=str 6.1.0"));
	assert_memory_equal(c, "default=True type=str 6.1.0", cl);
	static const char empty_ok[] = "0\0";
	assert_int_equal(qubesd_parse_reply(empty_ok, 2, &c, &cl, &e), 0);
	assert_int_equal(cl, 0);
	static const char err[] = "2\0QubesVMNotHaltedError\0\0Domain is not powered off: 'work'\0";
	assert_int_equal(qubesd_parse_reply(err, sizeof(err) - 1, &c, &cl, &e), -EREMOTEIO);
	assert_string_equal(e.type, "QubesVMNotHaltedError");
	assert_string_equal(e.msg, "Domain is not powered off: 'work'");
	static const char tb[] = "2\0QubesException\0Traceback...\nline\0boom\0";
	assert_int_equal(qubesd_parse_reply(tb, sizeof(tb) - 1, &c, &cl, &e), -EREMOTEIO);
	assert_string_equal(e.msg, "boom");
	assert_int_equal(qubesd_parse_reply("", 0, &c, &cl, &e), -EPROTO);
	assert_non_null(strstr(e.msg, "empty reply"));
	assert_int_equal(qubesd_parse_reply("2\0Qubes\0", 8, &c, &cl, &e), -EPROTO);
	assert_non_null(strstr(e.msg, "truncated"));
	assert_int_equal(qubesd_parse_reply("X\0", 2, &c, &cl, &e), -EPROTO);
	assert_int_equal(qubesd_parse_reply("0", 1, &c, &cl, &e), -EPROTO);
	assert_int_equal(qubesd_parse_reply("1\0\0x\0\0", 6, &c, &cl, &e), -EPROTO);
}

static void events(void **state)
{
	(void)state;
	struct qubesd_event ev;
	struct qubesd_error e;
	static const char s[] = "1\0\0connection-established\0\0"
				"1\0work\0property-set:kernel\0name\0kernel\0newvalue\0x\0oldvalue\0\0\0"
				"1\0\0domain-add\0vm\0disp7\0\0";
	size_t len = sizeof(s) - 1, off = 0;
	ssize_t n = qubesd_parse_event(s, len, &ev, &e);
	assert_true(n > 0);
	assert_string_equal(ev.subject, "");
	assert_string_equal(ev.name, "connection-established");
	assert_int_equal(ev.nkw, 0);
	off += n;
	n = qubesd_parse_event(s + off, len - off, &ev, &e);
	assert_true(n > 0);
	assert_string_equal(ev.subject, "work");
	assert_string_equal(ev.name, "property-set:kernel");
	assert_int_equal(ev.nkw, 3);
	assert_string_equal(qubesd_event_kw(&ev, "newvalue"), "x");
	assert_string_equal(qubesd_event_kw(&ev, "oldvalue"), "");
	assert_null(qubesd_event_kw(&ev, "nope"));
	off += n;
	/* every prefix of the last event is incomplete, not an error */
	for (size_t k = 0; k < len - off; k++)
		assert_int_equal(qubesd_parse_event(s + off, k, &ev, &e), 0);
	n = qubesd_parse_event(s + off, len - off, &ev, &e);
	assert_int_equal((size_t)n, len - off);
	assert_string_equal(qubesd_event_kw(&ev, "vm"), "disp7");
	/* an error reply instead of events */
	static const char err[] = "2\0PermissionDenied\0\0denied\0";
	assert_int_equal(qubesd_parse_event(err, sizeof(err) - 1, &ev, &e), -EPROTO);
	assert_int_equal(qubesd_parse_event("X", 1, &ev, &e), -EPROTO);
	assert_int_equal(qubesd_parse_event("1X", 2, &ev, &e), -EPROTO);
}

static void vm_list(void **state)
{
	(void)state;
	struct qube_list l;
	assert_int_equal(parse_vm_list("dom0 class=AdminVM state=Running uuid=00000000-0000-0000-0000-000000000000\n"
				       "work class=AppVM state=Halted\n\n"
				       "sys-net class=AppVM state=Running uuid=1\n", &l), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[1].name, "work");
	assert_string_equal(l.v[1].klass, "AppVM");
	assert_string_equal(l.v[1].state, "Halted");
	assert_ptr_equal(qubes_find(&l, "sys-net"), &l.v[2]);
	assert_null(qubes_find(&l, "nope"));
	qubes_free(&l);
	assert_int_equal(parse_vm_list("work state=Halted\n", &l), -EPROTO);
	qubes_free(&l);
	assert_int_equal(parse_vm_list("", &l), 0);
	assert_int_equal(l.n, 0);
}

static void properties(void **state)
{
	(void)state;
	struct qprop p;
	assert_int_equal(parse_property("default=True type=str 6.1.0", &p), 0);
	assert_true(p.is_default);
	assert_string_equal(p.value, "6.1.0");
	assert_int_equal(parse_property("default=False type=str nopat console=hvc0", &p), 0);
	assert_false(p.is_default);
	assert_string_equal(p.value, "nopat console=hvc0");
	assert_int_equal(parse_property("default=True type=str ", &p), 0);
	assert_string_equal(p.value, "");
	assert_int_equal(parse_property("default=True type=str", &p), 0); /* no value at all */
	assert_string_equal(p.value, "");
	assert_int_equal(parse_property("default=Maybe type=str x", &p), -EPROTO);
	assert_int_equal(parse_property("type=str x", &p), -EPROTO);

	struct qube q;
	memset(&q, 0, sizeof(q));
	assert_int_equal(parse_getall("auto_cleanup default=True type=bool False\n"
				      "kernel default=True type=str 6.1.0\n"
				      "kernelopts default=False type=str a\\\\b\\nc d\n"
				      "label default=False type=label red\n"
				      "template default=False type=vm debian-12\n"
				      "virt_mode default=True type=str pvh\n", &q), 0);
	assert_string_equal(q.kernel.value, "6.1.0");
	assert_true(q.kernel.is_default);
	assert_string_equal(q.kernelopts.value, "a\\b\nc d");
	assert_false(q.kernelopts.is_default);
	assert_string_equal(q.template.value, "debian-12");
	assert_string_equal(q.virt_mode.value, "pvh");
	assert_false(q.template_for_dispvms.present);
	assert_true(q.auto_cleanup.present);
	assert_int_equal(parse_getall("kernel default=x type=str y\n", &q), -EPROTO);
}

static void volume_info(void **state)
{
	(void)state;
	struct qvol v;
	assert_int_equal(parse_volume_info("pool=lvm\nvid=qubes_dom0/vm-work-root\nsize=2147483648\nusage=0\nrw=False\n"
					   "source=\npath=/dev/x\nsave_on_stop=False\nsnap_on_start=True\n"
					   "revisions_to_keep=1\nephemeral=False\nis_outdated=False\n", &v), 0);
	assert_false(v.rw);
	assert_true(v.snap_on_start);
	assert_false(v.ephemeral);
	assert_int_equal(parse_volume_info("rw=True\nsave_on_stop=False\nsnap_on_start=False\nephemeral=True\n", &v), 0);
	assert_true(v.rw && v.ephemeral);
	/* R4.1 has no ephemeral key */
	assert_int_equal(parse_volume_info("rw=True\nsave_on_stop=True\nsnap_on_start=False\n", &v), 0);
	assert_false(v.ephemeral);
	assert_int_equal(parse_volume_info("rw=maybe\nsave_on_stop=True\nsnap_on_start=False\n", &v), -EPROTO);
	assert_int_equal(parse_volume_info("pool=lvm\n", &v), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(request_header), cmocka_unit_test(replies), cmocka_unit_test(pool_dir), cmocka_unit_test(events),
		cmocka_unit_test(vm_list), cmocka_unit_test(properties), cmocka_unit_test(volume_info),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
