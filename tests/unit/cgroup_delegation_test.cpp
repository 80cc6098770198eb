// The container owns its cgroup: the config edits (shim/cgroup_delegation.hpp) and the
// ownership given to its root (cgroup/delegate.hpp), on a tree made like the kernel's.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "cgroup/delegate.hpp"
#include "shim/cgroup_delegation.hpp"
#include "shim/oci_config.hpp"
#include "temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace ecifs;

json rootful_spec() { return shim::read_config(fs::path(ECIFS_FIXTURES_DIR) / "oci/runc-spec.json"); }
json rootless_spec() { return shim::read_config(fs::path(ECIFS_FIXTURES_DIR) / "oci/runc-spec-rootless-uid1000.json"); }

const json& cgroup_mount(const json& config) {
    for (const json& m : config["mounts"])
        if (m["type"] == "cgroup") return m;
    throw std::runtime_error("no cgroup mount");
}

bool has(const json& array, const json& value) { return std::find(array.begin(), array.end(), value) != array.end(); }

TEST(CgroupDelegationConfig, AUserNamespacedContainerGetsACgroupNamespaceAndAWritableMount) {
    json config = rootless_spec();
    ASSERT_TRUE(has(cgroup_mount(config)["options"], "ro"));
    const json record = shim::delegate_cgroup(config);
    ASSERT_FALSE(record.is_null());
    EXPECT_FALSE(has(cgroup_mount(config)["options"], "ro"));
    EXPECT_TRUE(has(config["linux"]["namespaces"], json{{"type", "cgroup"}}));
    EXPECT_EQ(shim::delegate_env_entry(shim::container_root_ids(config)), "ECIFS_DELEGATE_CGROUP=1000:1000");
}

TEST(CgroupDelegationConfig, WithoutAUserNamespaceNothingChanges) {
    json config = rootful_spec();
    const json original = config;
    EXPECT_TRUE(shim::delegate_cgroup(config).is_null());
    EXPECT_EQ(config, original);
    shim::apply_ecifs(config, {}, {"/usr/bin/ecifs-runc", "/run/ecifs/ecifs.sock", ""});
    for (const json& h : config["hooks"]["createRuntime"])
        for (const json& e : h["env"]) EXPECT_FALSE(e.get<std::string>().starts_with("ECIFS_DELEGATE_CGROUP="));
}

TEST(CgroupDelegationConfig, TheStartHookNamesTheRootAndRemoveRestoresTheConfig) {
    const json original = rootless_spec();
    json config = original;
    shim::apply_ecifs(config, {}, {"/usr/bin/ecifs-runc", "/run/ecifs/ecifs.sock", ""});
    const json& start = config["hooks"]["createRuntime"][0];
    EXPECT_TRUE(has(start["env"], "ECIFS_DELEGATE_CGROUP=1000:1000"));
    json again = config;
    shim::apply_ecifs(again, {}, {"/usr/bin/ecifs-runc", "/run/ecifs/ecifs.sock", ""});
    EXPECT_EQ(again, config);  // a second run adds nothing
    shim::remove_ecifs(config);
    EXPECT_EQ(config, original);
}

TEST(CgroupDelegationConfig, AContainerWithItsOwnCgroupNamespaceKeepsIt) {
    json config = rootless_spec();
    config["linux"]["namespaces"].push_back({{"type", "cgroup"}});
    const json original = config;
    shim::apply_ecifs(config, {}, {"/usr/bin/ecifs-runc", "/run/ecifs/ecifs.sock", ""});
    shim::remove_ecifs(config);
    EXPECT_EQ(config, original);
}

TEST(CgroupDelegationConfig, ARuntimeNotRunAsRootKeepsRuncsCgroup) {
    json config = rootless_spec();
    const json original = config;
    shim::apply_ecifs(config, {}, {"/usr/bin/ecifs-runc", "/run/ecifs/ecifs.sock", "", false});
    EXPECT_EQ(config["mounts"], original["mounts"]);
    EXPECT_EQ(config["linux"]["namespaces"], original["linux"]["namespaces"]);
    EXPECT_FALSE(has(config["hooks"]["createRuntime"][0]["env"], "ECIFS_DELEGATE_CGROUP=1000:1000"));
}

TEST(CgroupDelegationConfig, TheHooksValueIsUidColonGid) {
    EXPECT_EQ(shim::parse_delegate_value("100000:100001")->gid, 100001u);
    for (const char* bad : {"", "1", "1:", ":1", "a:1", "1:2:3", "-1:5"})
        EXPECT_FALSE(shim::parse_delegate_value(bad)) << bad;
}

// A proc tree and cgroup hierarchies in a temporary directory: /proc/PID/cgroup and
// /proc/self/mountinfo name the hierarchies by their paths there.
class Hierarchies : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "chown needs root";
        base_ = testing_support::unique_temp_dir("ecifs-delegate");
        fs::create_directories(base_ / "proc/42");
        fs::create_directories(base_ / "proc/self");
        std::ofstream(base_ / "proc/self/mountinfo")
            << "30 25 0:26 / " << (base_ / "memory").string() << " rw - cgroup cgroup rw,memory\n"
            << "31 25 0:27 / " << (base_ / "systemd").string() << " rw - cgroup cgroup rw,xattr,name=systemd\n"
            << "32 25 0:28 / " << (base_ / "pids").string() << " rw - cgroup cgroup rw,pids\n"
            << "33 25 0:29 / " << (base_ / "unified").string() << " rw - cgroup2 cgroup2 rw\n";
        std::ofstream(base_ / "proc/42/cgroup") << "5:memory:/box/c1\n"
                                                << "9:name=systemd:/box/c1\n"
                                                << "3:pids:/\n"  // a hierarchy's root: never given
                                                << "2:cpu:/box/c1\n"  // not mounted: skipped
                                                << "0::/box/c1\n";
        for (const char* h : {"memory", "systemd", "unified"}) make_cgroup(base_ / h / "box/c1", "42\n");
        for (const char* f : {"tasks", "memory.limit_in_bytes"}) std::ofstream(base_ / "memory/box/c1" / f);
        std::ofstream(base_ / "systemd/box/c1/tasks");
        for (const char* f : {"cgroup.threads", "cgroup.subtree_control", "memory.max"})
            std::ofstream(base_ / "unified/box/c1" / f);
        make_cgroup(base_ / "pids", "1\n42\n");
    }
    void TearDown() override {
        if (!base_.empty()) fs::remove_all(base_);
    }
    static void make_cgroup(const fs::path& dir, const char* procs) {
        fs::create_directories(dir);
        std::ofstream(dir / "cgroup.procs") << procs;
    }
    static uid_t owner(const fs::path& p) {
        struct stat st {};
        EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
        return st.st_uid;
    }
    fs::path base_;
    const cgroup::DelegationFiles files_{{"cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "memory.reclaim"},
                                         {"tasks", "cgroup.procs"}};
};

TEST_F(Hierarchies, TheContainersCgroupsAndTheirDelegationFilesAreGivenItsLimitsAreNot) {
    const auto given = cgroup::delegate_cgroups(42, 100000, 100000, files_, base_ / "proc");
    EXPECT_EQ(given.size(), 3u);
    for (const char* p : {"memory/box/c1", "memory/box/c1/tasks", "memory/box/c1/cgroup.procs", "systemd/box/c1",
                          "systemd/box/c1/tasks", "unified/box/c1", "unified/box/c1/cgroup.procs",
                          "unified/box/c1/cgroup.threads", "unified/box/c1/cgroup.subtree_control"})
        EXPECT_EQ(owner(base_ / p), 100000u) << p;
    for (const char* p : {"memory/box/c1/memory.limit_in_bytes", "unified/box/c1/memory.max", "memory/box", "pids"})
        EXPECT_EQ(owner(base_ / p), 0u) << p;
}

TEST_F(Hierarchies, ACgroupAnotherProcessIsInIsNotGiven) {
    std::ofstream(base_ / "memory/box/c1/cgroup.procs") << "42\n43\n";
    const auto given = cgroup::delegate_cgroups(42, 100000, 100000, files_, base_ / "proc");
    EXPECT_EQ(given.size(), 2u);
    EXPECT_EQ(owner(base_ / "memory/box/c1"), 0u);
    EXPECT_EQ(owner(base_ / "memory/box/c1/cgroup.procs"), 0u);
}

TEST_F(Hierarchies, AGoneProcessIsAnError) {
    EXPECT_THROW(cgroup::delegate_cgroups(7, 100000, 100000, files_, base_ / "proc"), std::runtime_error);
}

TEST(CgroupDelegationFiles, TheKernelsListOrCgroupV2RstsThree) {
    const fs::path dir = testing_support::unique_temp_dir("ecifs-delegate-list");
    std::ofstream(dir / "delegate") << "cgroup.procs\ncgroup.threads\ncgroup.subtree_control\nmemory.reclaim\n";
    EXPECT_EQ(cgroup::delegation_files(dir / "delegate").v2.size(), 4u);
    const auto fallback = cgroup::delegation_files(dir / "missing");
    EXPECT_EQ(fallback.v2, (std::vector<std::string>{"cgroup.procs", "cgroup.threads", "cgroup.subtree_control"}));
    EXPECT_EQ(fallback.v1, (std::vector<std::string>{"tasks", "cgroup.procs"}));
    fs::remove_all(dir);
}

}  // namespace
