/* Topology and placement (engine/topology.h): decisions on hwloc synthetic machines
 * (two sockets, one socket with two cores, more ranks than cores, GPUs on either
 * socket), CPU lists given by hand and refused ones, the launcher's local rank, and
 * on this machine that binding a thread lands where it says. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "topology/cpu_list.h"
#include "topology/internal.h"

/* Two sockets, one NUMA node each, 8 cores of 2 hyperthreads: PUs 0-15 on node 0,
 * 16-31 on node 1, core c holds PUs 2c and 2c+1. */
static const char *const two_sockets = "pack:2 numa:1 core:8 pu:2";
/* This development machine's shape: one socket, one node, 2 cores. */
static const char *const two_cores = "pack:1 numa:1 core:2 pu:1";

static zo_topology *load(const char *description)
{
    zo_topology *topology = NULL;
    zo_status status = zo_topology_load_synthetic(description, &topology);
    cr_assert(eq(int, status, ZO_OK), "%s: %s", description, zo_last_error());
    return topology;
}

static zo_placement place(const char *description, int rank, int ranks)
{
    zo_topology *topology = load(description);
    zo_placement_request request = {.local_rank = rank, .local_ranks = ranks, .bind = ZO_BIND_AUTO};
    zo_placement placement;
    zo_status status = zo_topology_place(topology, &request, &placement);
    cr_assert(eq(int, status, ZO_OK), "%s rank %d of %d: %s", description, rank, ranks,
              zo_last_error());
    zo_topology_destroy(&topology);
    cr_assert(topology == NULL);
    return placement;
}

static void expect_contains(const char *text, const char *part)
{
    cr_expect(strstr(text, part) != NULL, "\"%s\" should contain \"%s\"", text, part);
}

Test(topology, one_rank_takes_every_core_of_both_sockets_and_interleaves_its_memory)
{
    zo_placement p = place(two_sockets, 0, 1);
    cr_assert(eq(int, p.bound, true));
    cr_assert(eq(int, p.cpu_count, 16), "one thread per core, not per hyperthread");
    cr_assert(eq(str, p.cpu_list, "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30"));
    cr_assert(eq(int, p.threads, 16));
    cr_assert(eq(str, p.node_list, "0-1"));
    cr_assert(eq(int, p.bind_memory, true));
    cr_assert(eq(int, p.shares_cores, false));
    expect_contains(p.decision, "local rank 0 of 1: 16 cores");
    expect_contains(p.decision, "memory interleaved over NUMA nodes 0-1");
}

Test(topology, two_ranks_get_a_socket_each)
{
    zo_placement first = place(two_sockets, 0, 2), second = place(two_sockets, 1, 2);
    cr_assert(eq(str, first.cpu_list, "0,2,4,6,8,10,12,14"));
    cr_assert(eq(str, first.node_list, "0"));
    cr_assert(eq(str, second.cpu_list, "16,18,20,22,24,26,28,30"));
    cr_assert(eq(str, second.node_list, "1"));
    cr_assert(eq(int, second.threads, 8));
    expect_contains(second.decision, "memory bound to NUMA node 1");
}

Test(topology, four_ranks_split_each_socket_in_two_contiguous_halves)
{
    static const char *const expected[4][2] = {
        {"0,2,4,6", "0"}, {"8,10,12,14", "0"}, {"16,18,20,22", "1"}, {"24,26,28,30", "1"}};
    for (int rank = 0; rank < 4; rank++) {
        zo_placement p = place(two_sockets, rank, 4);
        cr_expect(eq(str, p.cpu_list, (char *)expected[rank][0]), "rank %d", rank);
        cr_expect(eq(str, p.node_list, (char *)expected[rank][1]), "rank %d", rank);
        cr_expect(eq(int, p.threads, 4));
        expect_contains(p.decision, "local rank ");
        expect_contains(p.decision, "2 ranks split 8 cores: 4 cores");
    }
}

/* Every core goes to exactly one rank, for any rank count up to the cores. */
Test(topology, ranks_never_overlap_and_leave_no_core_idle)
{
    static const char *const machines[] = {"pack:2 numa:1 core:8 pu:2", "pack:1 numa:1 core:2 pu:1",
                                           "pack:2 numa:2 core:3 pu:1", "numa:4 core:5 pu:2"};
    for (size_t m = 0; m < sizeof machines / sizeof machines[0]; m++) {
        zo_placement whole = place(machines[m], 0, 1);
        for (int ranks = 1; ranks <= whole.cpu_count; ranks++) {
            int owner[ZO_PLACEMENT_MAX_CPUS];
            for (int c = 0; c < ZO_PLACEMENT_MAX_CPUS; c++)
                owner[c] = -1;
            int placed = 0;
            for (int rank = 0; rank < ranks; rank++) {
                zo_placement p = place(machines[m], rank, ranks);
                cr_assert(p.cpu_count >= 1);
                for (int i = 0; i < p.cpu_count; i++) {
                    cr_assert(eq(int, owner[p.cpus[i]], -1),
                              "%s, %d ranks: CPU %d given to ranks %d and %d", machines[m], ranks,
                              p.cpus[i], owner[p.cpus[i]], rank);
                    owner[p.cpus[i]] = rank;
                }
                placed += p.cpu_count;
            }
            cr_assert(eq(int, placed, whole.cpu_count), "%s, %d ranks", machines[m], ranks);
        }
    }
}

Test(topology, a_machine_with_one_node_and_two_cores_still_decides_and_reports)
{
    zo_placement p = place(two_cores, 0, 1);
    cr_assert(eq(str, p.cpu_list, "0-1"));
    cr_assert(eq(int, p.threads, 2));
    cr_assert(eq(int, p.bind_memory, false));
    cr_assert(eq(str, p.decision,
                 "local rank 0 of 1: 2 cores (CPUs 0-1) on NUMA node 0; 2 threads, one per core; "
                 "one NUMA node: memory needs no binding"));
    zo_placement first = place(two_cores, 0, 2), second = place(two_cores, 1, 2);
    cr_assert(eq(str, first.cpu_list, "0"));
    cr_assert(eq(str, second.cpu_list, "1"));
}

Test(topology, more_ranks_than_cores_share_as_evenly_as_possible_and_say_so)
{
    int per_core[2] = {0, 0};
    for (int rank = 0; rank < 5; rank++) {
        zo_placement p = place(two_cores, rank, 5);
        cr_assert(eq(int, p.cpu_count, 1));
        cr_assert(eq(int, p.shares_cores, true));
        expect_contains(p.decision, "more ranks than cores: up to 3 ranks share a core");
        per_core[p.cpus[0]]++;
    }
    cr_assert(eq(int, per_core[0], 3));
    cr_assert(eq(int, per_core[1], 2));
}

static zo_placement place_near_gpus(const char *const *gpu_cpus, int rank, int ranks)
{
    zo_topology *topology = load(two_sockets);
    zo_placement_request request = {
        .local_rank = rank, .local_ranks = ranks, .gpu_cpus = gpu_cpus, .bind = ZO_BIND_AUTO};
    zo_placement placement;
    cr_assert(eq(int, zo_topology_place(topology, &request, &placement), ZO_OK), "%s",
              zo_last_error());
    zo_topology_destroy(&topology);
    return placement;
}

Test(topology, each_rank_goes_to_the_socket_of_its_gpu)
{
    static const char *const crossed[] = {"16-31", "0-15"};
    zo_placement first = place_near_gpus(crossed, 0, 2), second = place_near_gpus(crossed, 1, 2);
    cr_assert(eq(str, first.node_list, "1"));
    cr_assert(eq(str, second.node_list, "0"));
    expect_contains(first.decision, "near its GPU");
}

Test(topology, ranks_whose_gpus_share_a_socket_split_its_cores)
{
    static const char *const both_on_one[] = {"16-31", "16-31"};
    zo_placement first = place_near_gpus(both_on_one, 0, 2),
                 second = place_near_gpus(both_on_one, 1, 2);
    cr_assert(eq(str, first.cpu_list, "16,18,20,22"));
    cr_assert(eq(str, second.cpu_list, "24,26,28,30"));
}

Test(topology, one_unknown_gpu_locality_means_the_plain_split_for_all)
{
    static const char *const one_unknown[] = {"16-31", ""};
    zo_placement first = place_near_gpus(one_unknown, 0, 2);
    cr_assert(eq(str, first.node_list, "0"));
    cr_assert(strstr(first.decision, "GPU") == NULL, "%s", first.decision);
}

static zo_status place_listed(const char *description, const char *list, int threads,
                              zo_placement *out)
{
    zo_topology *topology = load(description);
    zo_placement_request request = {.local_rank = 0,
                                    .local_ranks = 1,
                                    .threads = threads,
                                    .bind = ZO_BIND_CPUS,
                                    .bind_cpus = list};
    zo_status status = zo_topology_place(topology, &request, out);
    zo_topology_destroy(&topology);
    return status;
}

Test(topology, a_cpu_list_takes_one_listed_pu_per_core)
{
    zo_placement p;
    /* PUs 0 and 1 are one core, 3 another, 16-17 a third */
    cr_assert(eq(int, place_listed(two_sockets, "0-1,3,16-17", 0, &p), ZO_OK), "%s",
              zo_last_error());
    cr_assert(eq(int, p.cpu_count, 3));
    cr_assert(eq(int, p.cpus[0], 0));
    cr_assert(eq(int, p.cpus[1], 3));
    cr_assert(eq(int, p.cpus[2], 16));
    cr_assert(eq(str, p.node_list, "0-1"));
    expect_contains(p.decision, "zo.bind \"0-1,3,16-17\": 3 cores");
}

Test(topology, more_threads_than_listed_cores_share_them_and_say_so)
{
    zo_placement p;
    cr_assert(eq(int, place_listed(two_cores, "1", 3, &p), ZO_OK));
    cr_assert(eq(int, p.threads, 3));
    cr_assert(eq(int, p.shares_cores, true));
    expect_contains(p.decision, "3 threads on 1 core: threads share cores");
}

typedef struct refused_list {
    const char *list;
    const char *message;
} refused_list;

Test(topology, bad_or_absent_cpu_lists_are_refused_and_leave_the_placement_alone)
{
    static const refused_list cases[] = {
        {"0-40", "zo.bind \"0-40\" names CPUs 32-40, which this machine does not have"},
        {"99", "names CPUs 99"},
        {"", "the list is empty"},
        {"1-", "the range at character 1 has no end"},
        {"5-2", "the range 5-2 runs backwards"},
        {"-1", "a CPU number (0..65535) is expected at character 1"},
        {"0,,1", "a CPU number (0..65535) is expected at character 3"},
        {"0x0f", "unexpected 'x' at character 2"},
        {NULL, "bind_cpus is NULL"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        zo_placement p;
        memset(&p, 0x5a, sizeof p);
        zo_status status = place_listed(two_sockets, cases[i].list, 0, &p);
        cr_expect(eq(int, status, ZO_ERR_INVALID_ARGUMENT), "list %s", cases[i].list);
        expect_contains(zo_last_error(), cases[i].message);
        cr_expect(eq(int, p.cpu_count, 0x5a5a5a5a), "a refusal writes nothing");
    }
}

Test(topology, bind_none_pins_nothing_and_keeps_the_thread_count)
{
    zo_topology *topology = load(two_sockets);
    zo_placement_request request = {
        .local_rank = 0, .local_ranks = 1, .threads = 6, .bind = ZO_BIND_NONE};
    zo_placement p;
    cr_assert(eq(int, zo_topology_place(topology, &request, &p), ZO_OK));
    cr_assert(eq(int, p.bound, false));
    cr_assert(eq(int, p.cpu_count, 0));
    cr_assert(eq(int, p.threads, 6));
    expect_contains(p.decision, "zo.bind \"none\"");
    cr_assert(eq(int, zo_topology_bind_thread(topology, &p, 0), ZO_OK), "nothing to bind");
    zo_topology_destroy(&topology);
}

Test(topology, bad_requests_are_refused_by_name)
{
    zo_topology *topology = load(two_cores);
    zo_placement p;
    zo_placement_request request = {.local_rank = 2, .local_ranks = 2, .bind = ZO_BIND_AUTO};
    cr_assert(eq(int, zo_topology_place(topology, &request, &p), ZO_ERR_INVALID_ARGUMENT));
    expect_contains(zo_last_error(), "local rank 2 of 2");
    request = (zo_placement_request){.local_ranks = 1, .threads = -1};
    cr_assert(eq(int, zo_topology_place(topology, &request, &p), ZO_ERR_INVALID_ARGUMENT));
    expect_contains(zo_last_error(), "threads is -1");
    cr_assert(eq(int, zo_topology_place(NULL, &request, &p), ZO_ERR_INVALID_ARGUMENT));
    zo_topology_destroy(&topology);
    zo_topology_destroy(NULL);

    cr_assert(eq(int, zo_topology_load_synthetic("pack:two", &topology), ZO_ERR_INVALID_ARGUMENT));
    expect_contains(zo_last_error(), "hwloc refuses the description \"pack:two\"");
    cr_assert(topology == NULL);
}

Test(topology, a_synthetic_machine_is_described_but_never_bound)
{
    zo_topology *topology = load(two_sockets);
    char text[512];
    zo_topology_describe(topology, text, sizeof text);
    cr_assert(eq(str, text,
                 "2 packages, 2 NUMA nodes, 16 cores, 32 PUs; NUMA node 0: CPUs 0-15, 1.0 GiB; "
                 "NUMA node 1: CPUs 16-31, 1.0 GiB"));
    zo_placement p = place(two_sockets, 0, 2);
    cr_assert(eq(int, zo_topology_bind_thread(topology, &p, 0), ZO_ERR_INVALID_ARGUMENT));
    char page[4096];
    bool bound = zo_topology_bind_memory(topology, &p, page, sizeof page);
    cr_assert(eq(int, bound, false));
    zo_topology_destroy(&topology);
}

Test(topology, this_machine_places_one_rank_and_binds_the_thread_where_it_says)
{
    zo_topology *topology = NULL;
    cr_assert(eq(int, zo_topology_load(&topology), ZO_OK), "%s", zo_last_error());
    zo_placement_request request = {.local_rank = 0, .local_ranks = 1, .bind = ZO_BIND_AUTO};
    zo_placement p;
    cr_assert(eq(int, zo_topology_place(topology, &request, &p), ZO_OK), "%s", zo_last_error());
    cr_assert(p.cpu_count >= 1);
    cr_assert(eq(int, p.threads, p.cpu_count));
    int last = p.cpu_count - 1;
    cr_assert(eq(int, zo_topology_bind_thread(topology, &p, last), ZO_OK), "%s", zo_last_error());
    cpu_set_t mine;
    cr_assert(eq(int, sched_getaffinity(0, sizeof mine, &mine), 0));
    cr_assert(eq(int, CPU_COUNT(&mine), 1));
    cr_assert(eq(int, CPU_ISSET(p.cpus[last], &mine) != 0, 1));
    zo_topology_destroy(&topology);
}

Test(topology, the_local_rank_comes_from_the_launcher)
{
    int rank = -1, ranks = -1;
    const char *source = NULL;
    unsetenv("OMPI_COMM_WORLD_LOCAL_RANK"), unsetenv("MPI_LOCALRANKID");
    unsetenv("SLURM_LOCALID"), unsetenv("LOCAL_RANK");
    zo_topology_local_rank(&rank, &ranks, &source);
    cr_assert(eq(int, rank, 0));
    cr_assert(eq(int, ranks, 1));
    cr_assert(eq(str, (char *)source, "none"));

    setenv("LOCAL_RANK", "3", 1), setenv("LOCAL_WORLD_SIZE", "4", 1);
    zo_topology_local_rank(&rank, &ranks, &source);
    cr_assert(eq(int, rank, 3));
    cr_assert(eq(int, ranks, 4));
    setenv("OMPI_COMM_WORLD_LOCAL_RANK", "1", 1), setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "2", 1);
    zo_topology_local_rank(&rank, &ranks, &source);
    cr_assert(eq(int, rank, 1), "Open MPI's variables come first");
    cr_assert(eq(str, (char *)source, "OMPI_COMM_WORLD_LOCAL_RANK"));
    setenv("OMPI_COMM_WORLD_LOCAL_RANK", "2", 1); /* not below the size: ignored */
    setenv("LOCAL_RANK", "x", 1);
    zo_topology_local_rank(&rank, &ranks, &source);
    cr_assert(eq(int, rank, 0));
    cr_assert(eq(int, ranks, 1));
}

/* What the calling thread's memory policy is while zo_topology_allocate_near runs. */
typedef struct thread_policy_probe {
    const zo_topology *topology;
    hwloc_membind_policy_t policy;
    hwloc_nodeset_t nodes;
} thread_policy_probe;

static zo_status probe_thread_policy(void *arg)
{
    thread_policy_probe *probe = arg;
    int got = hwloc_get_membind(probe->topology->hwloc, probe->nodes, &probe->policy,
                                HWLOC_MEMBIND_THREAD | HWLOC_MEMBIND_BYNODESET);
    return got == 0 ? ZO_OK : ZO_ERR_DEVICE;
}

/* This machine has one NUMA node, where zo binds nothing; with bind_memory forced on,
 * the path of a multi-node machine runs for real on node 0. */
Test(topology, memory_goes_to_the_placements_node_by_range_and_by_thread_policy)
{
    zo_topology *topology = NULL;
    cr_assert(eq(int, zo_topology_load(&topology), ZO_OK), "%s", zo_last_error());
    const struct hwloc_topology_support *support = hwloc_topology_get_support(topology->hwloc);
    if (!support->membind->set_area_membind || !support->membind->set_thisthread_membind)
        cr_skip_test("this system cannot bind memory (hwloc reports no support)");
    zo_placement_request request = {.local_rank = 0, .local_ranks = 1, .bind = ZO_BIND_AUTO};
    zo_placement p;
    cr_assert(eq(int, zo_topology_place(topology, &request, &p), ZO_OK), "%s", zo_last_error());
    p.bind_memory = true;

    size_t bytes = 1 << 20;
    char *buffer = aligned_alloc(4096, bytes);
    memset(buffer, 1, bytes); /* touched first: the binding must move it */
    cr_assert(zo_topology_bind_memory(topology, &p, buffer + 100, bytes - 100));
    hwloc_nodeset_t nodes = hwloc_bitmap_alloc();
    hwloc_membind_policy_t policy;
    cr_assert(eq(int,
                 hwloc_get_area_membind(topology->hwloc, buffer, bytes, nodes, &policy,
                                        HWLOC_MEMBIND_BYNODESET),
                 0));
    cr_expect(eq(int, policy, HWLOC_MEMBIND_BIND));
    cr_expect(eq(int, hwloc_bitmap_isset(nodes, (unsigned)p.nodes[0]), 1));
    free(buffer);

    hwloc_membind_policy_t before, after;
    hwloc_nodeset_t before_nodes = hwloc_bitmap_alloc(), after_nodes = hwloc_bitmap_alloc();
    const int flags = HWLOC_MEMBIND_THREAD | HWLOC_MEMBIND_BYNODESET;
    cr_assert(eq(int, hwloc_get_membind(topology->hwloc, before_nodes, &before, flags), 0));
    thread_policy_probe probe = {.topology = topology, .nodes = nodes};
    cr_assert(eq(int, zo_topology_allocate_near(topology, &p, probe_thread_policy, &probe), ZO_OK));
    cr_expect(eq(int, probe.policy, HWLOC_MEMBIND_BIND), "while allocating: the placement's node");
    cr_assert(eq(int, hwloc_get_membind(topology->hwloc, after_nodes, &after, flags), 0));
    cr_expect(eq(int, after, before), "afterwards: the thread's policy as it was");
    cr_expect(eq(int, hwloc_bitmap_isequal(after_nodes, before_nodes), 1));

    p.bind_memory = false; /* as zo decides on one node: nothing bound, allocate still runs */
    probe.policy = HWLOC_MEMBIND_MIXED;
    cr_assert(eq(int, zo_topology_allocate_near(topology, &p, probe_thread_policy, &probe), ZO_OK));
    cr_expect(eq(int, probe.policy, before));
    hwloc_bitmap_free(nodes), hwloc_bitmap_free(before_nodes), hwloc_bitmap_free(after_nodes);
    zo_topology_destroy(&topology);
}

static void count_cpus(void *user, unsigned first, unsigned last)
{
    *(unsigned *)user += last - first + 1;
}

Test(cpu_list, reads_linux_lists_and_refuses_anything_else_without_adding)
{
    unsigned count = 0;
    char problem[128];
    cr_assert(zo_cpu_list_parse("0-3,8,10-11", count_cpus, &count, problem, sizeof problem));
    cr_assert(eq(u32, count, 7));
    count = 0;
    bool accepted = zo_cpu_list_parse("0-3,x", count_cpus, &count, problem, sizeof problem);
    cr_assert(eq(int, accepted, false));
    cr_assert(eq(u32, count, 0), "nothing added from a list that is refused");
    cr_assert(eq(str, problem, "a CPU number (0..65535) is expected at character 5"));
    accepted = zo_cpu_list_parse("3,", NULL, NULL, problem, sizeof problem);
    cr_assert(eq(int, accepted, false), "a trailing comma");
}
