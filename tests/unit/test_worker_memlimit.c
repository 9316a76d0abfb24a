/* tests/unit/test_worker_memlimit.c — finding this process's memory cgroup from the text of
 * /proc/self/cgroup and /proc/self/mountinfo (memlimit.h), as hosts, containers and cgroup v2
 * show them; and the RLIMIT_AS fallback on a real child. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "memlimit.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define V1_CGROUP                                                                                  \
    "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/273cd\n2:cpuacct,cpu:/x\n0::/\n"
#define V1_MOUNTS                                                                                  \
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"                          \
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"                         \
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory\n"

static void test_v1_host(void **state)
{
    (void)state;
    char dir[256];
    assert_int_equal(tmq_memcg_locate(V1_CGROUP, V1_MOUNTS, dir, sizeof dir), 1);
    assert_string_equal(dir, "/sys/fs/cgroup/memory/process_api/273cd");
}

/* A container mounts the hierarchy from its own cgroup down: ROOT is that cgroup. */
static void test_v1_container(void **state)
{
    (void)state;
    char dir[256];
    const char *mounts =
        "35 31 0:32 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n";
    assert_int_equal(tmq_memcg_locate("5:memory:/docker/abc\n", mounts, dir, sizeof dir), 1);
    assert_string_equal(dir, "/sys/fs/cgroup/memory");
    assert_int_equal(tmq_memcg_locate("5:memory:/docker/abc/sub\n", mounts, dir, sizeof dir), 1);
    assert_string_equal(dir, "/sys/fs/cgroup/memory/sub");
    /* a path outside the mounted root is not reachable through it */
    assert_int_equal(tmq_memcg_locate("5:memory:/docker/abcd\n", mounts, dir, sizeof dir), 0);
    /* memory among others in one hierarchy */
    assert_int_equal(tmq_memcg_locate("3:cpu,memory:/a\n",
                                      "40 1 0:9 / /cg rw - cgroup none rw,cpu,memory\n", dir,
                                      sizeof dir),
                     1);
    assert_string_equal(dir, "/cg/a");
}

static void test_v2(void **state)
{
    (void)state;
    char dir[256];
    const char *mounts = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
    assert_int_equal(tmq_memcg_locate("0::/user.slice/user-1000.slice/session-2.scope\n", mounts,
                                      dir, sizeof dir),
                     2);
    assert_string_equal(dir, "/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope");
    assert_int_equal(tmq_memcg_locate("0::/\n", mounts, dir, sizeof dir), 2);
    assert_string_equal(dir, "/sys/fs/cgroup");
    /* v1's memory controller wins when both are there (hybrid) */
    assert_int_equal(tmq_memcg_locate(V1_CGROUP, V1_MOUNTS, dir, sizeof dir), 1);
}

static void test_none(void **state)
{
    (void)state;
    char dir[256];
    /* no memory controller; not mounted; garbage; a directory that does not fit */
    assert_int_equal(tmq_memcg_locate("8:pids:/\n2:cpu:/x\n", V1_MOUNTS, dir, sizeof dir), 0);
    assert_int_equal(tmq_memcg_locate("4:memory:/a\n",
                                      "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n",
                                      dir, sizeof dir),
                     0);
    assert_int_equal(tmq_memcg_locate("0::/a\n", V1_MOUNTS, dir, sizeof dir), 0);
    assert_int_equal(tmq_memcg_locate("", "", dir, sizeof dir), 0);
    assert_int_equal(tmq_memcg_locate("garbage\n::\n4:memory:\n", "x - y\n - \n", dir, sizeof dir),
                     0);
    char small[8];
    assert_int_equal(tmq_memcg_locate(V1_CGROUP, V1_MOUNTS, small, sizeof small), 0);
}

/* The fallback sets a child's soft RLIMIT_AS, and 0 puts it back to the hard limit. */
static void test_rlimit(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        pause();
        _exit(0);
    }
    struct rlimit r, hard;
    assert_int_equal(prlimit(pid, RLIMIT_AS, NULL, &hard), 0);
    assert_int_equal(tmq_memlimit_rlimit(pid, 512u << 20), 0);
    assert_int_equal(prlimit(pid, RLIMIT_AS, NULL, &r), 0);
    assert_true(r.rlim_cur == 512u << 20);
    assert_true(r.rlim_max == hard.rlim_max);
    assert_int_equal(tmq_memlimit_rlimit(pid, 0), 0);
    assert_int_equal(prlimit(pid, RLIMIT_AS, NULL, &r), 0);
    assert_true(r.rlim_cur == hard.rlim_max);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1_host), cmocka_unit_test(test_v1_container),
        cmocka_unit_test(test_v2),      cmocka_unit_test(test_none),
        cmocka_unit_test(test_rlimit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
