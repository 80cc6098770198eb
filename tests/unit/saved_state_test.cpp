// What a daemon keeps on disk for the next one (daemon/saved_state.hpp, docs/restart.md).
#include "daemon/saved_state.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "seccomp/pending.hpp"
#include "temp_dir.hpp"

namespace ecifs::daemon {
namespace {

SavedContainer sample() {
    SavedContainer c;
    c.id = "web-1";
    c.root_uid = 100000;
    c.root_gid = 100000;
    c.creator = 4242;
    c.creator_start = 1234.56;
    c.masked_paths = {"/proc/kcore"};
    c.readonly_paths = {"/proc/sys"};
    c.started = true;
    c.init_pid = 4300;
    c.init_start = 1235.01;
    c.init_cgroup = "4:memory:/box\n0::/box\n";
    c.fuse_init = std::string("\x68\x00\x00\x00\x1a\x00\xff", 7);
    return c;
}

TEST(SavedState, ARecordComesBackAsItWasSaved) {
    SavedState state(testing_support::unique_temp_dir("saved") / "records");
    state.save(sample());
    state.save_values("web-1", {{"kernel/panic", "7\n"}, {"kernel/random/boot_id", "x\n"}});
    const auto loaded = state.load_all();
    ASSERT_TRUE(loaded.errors.empty()) << loaded.errors.front();
    ASSERT_EQ(loaded.containers.size(), 1u);
    const SavedContainer& c = loaded.containers.front();
    EXPECT_EQ(c.id, "web-1");
    EXPECT_EQ(c.root_uid, 100000u);
    EXPECT_EQ(c.creator, 4242);
    EXPECT_EQ(c.creator_start, 1234.56);
    EXPECT_EQ(c.init_start, 1235.01);
    EXPECT_EQ(c.masked_paths, sample().masked_paths);
    EXPECT_EQ(c.fuse_init, sample().fuse_init);
    EXPECT_EQ(c.init_cgroup, sample().init_cgroup);
    EXPECT_EQ(state.load_values("web-1").at("kernel/panic"), "7\n");
}

TEST(SavedState, ARecordOfAnEarlierDaemonHasNoInitCgroup) {
    const auto dir = testing_support::unique_temp_dir("saved") / "records";
    SavedState state(dir);
    state.save(sample());
    std::ifstream in(dir / "web-1.json");
    auto record = nlohmann::json::parse(in);
    record.erase("init_cgroup");
    std::ofstream(dir / "web-1.json") << record.dump();
    const auto loaded = state.load_all();
    ASSERT_EQ(loaded.containers.size(), 1u);
    EXPECT_TRUE(loaded.containers.front().init_cgroup.empty());
}

TEST(SavedState, ACorruptFileIsAnErrorNamingItNotACrash) {
    const auto dir = testing_support::unique_temp_dir("saved") / "records";
    SavedState state(dir);
    state.save(sample());
    std::ofstream(dir / "broken.json") << "{\"version\": 1, \"id\": ";
    std::ofstream(dir / "future.json") << "{\"version\": 99}";
    std::ofstream(dir / "web-1.values.json") << "not json";
    const auto loaded = state.load_all();
    EXPECT_EQ(loaded.containers.size(), 1u);
    ASSERT_EQ(loaded.errors.size(), 2u);
    for (const auto& error : loaded.errors) EXPECT_NE(error.find(dir.string()), std::string::npos) << error;
    EXPECT_THROW(state.load_values("web-1"), std::runtime_error);
    EXPECT_TRUE(state.load_values("nobody").empty());
}

TEST(SavedState, EraseLeavesNothing) {
    const auto dir = testing_support::unique_temp_dir("saved") / "records";
    SavedState state(dir);
    state.save(sample());
    state.save_values("web-1", {{"kernel/panic", "7\n"}});
    std::ofstream(state.nodes_file("web-1")) << "+ 900 12 kernel/hostname\n";
    state.save_mounts("web-1", {{4026532001, {{700, 0}}}});
    std::ofstream(state.pending_dir() / "seccomp:web-1:0.77") << "77 1 2 3 0 0 0 0 0 0\n";
    std::ofstream(state.pending_dir() / "seccomp:web-10:0.78") << "78 1 2 3 0 0 0 0 0 0\n";
    state.erase("web-1");
    std::vector<std::string> left;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir))
        left.push_back(entry.path().lexically_relative(dir).string());
    std::sort(left.begin(), left.end());
    EXPECT_EQ(left, (std::vector<std::string>{"pending", "pending/seccomp:web-10:0.78"}));  // another's stays
}

TEST(SavedState, AProcessIsKnownByItsPidAndStart) {
    const auto mine = process_start(::getpid());
    ASSERT_TRUE(mine);
    EXPECT_EQ(process_start(::getpid()), mine);
    EXPECT_FALSE(process_start(0));
}

TEST(PendingCalls, ACallTakenAndNotAnsweredIsTakenOverOnce) {
    const auto dir = testing_support::unique_temp_dir("pending");
    const seccomp::PendingCalls fd0(dir, "seccomp:web-1:0"), fd1(dir, "seccomp:web-1:1");
    seccomp::Notification a{.id = 11, .pid = 4300, .arch = 0xc000003e, .nr = 99, .args = {1, 2, 3, 4, 5, 6}};
    seccomp::Notification b = a;
    b.id = 12;
    fd0.taken(a);
    fd0.taken(b);
    fd0.answered(12);
    fd1.taken(b);
    const auto taken = fd0.take_over();
    ASSERT_EQ(taken.size(), 1u);
    const seccomp::Notification& n = taken[0].notification;
    EXPECT_EQ(n.id, 11u);
    EXPECT_EQ(n.pid, 4300);
    EXPECT_EQ(n.arch, 0xc000003eu);
    EXPECT_EQ(n.nr, 99);
    EXPECT_EQ(n.args[5], 6u);
    EXPECT_EQ(taken[0].unmounting, 0u);  // nothing done yet: the next daemon makes the call
    EXPECT_TRUE(fd0.take_over().empty());
    EXPECT_EQ(fd1.take_over().size(), 1u);  // each fd its own
}

TEST(PendingCalls, AnUnmountAboutToBeMadeIsKnownToTheNextDaemon) {
    const auto dir = testing_support::unique_temp_dir("pending");
    const seccomp::PendingCalls fd0(dir, "seccomp:web-1:0");
    seccomp::Notification umount{.id = 21, .pid = 4300, .arch = 0xc000003e, .nr = 166, .args = {1, 2, 0, 0, 0, 0}};
    fd0.taken(umount);
    ASSERT_TRUE(fd0.unmounting(umount, 4026532001, 1234));
    const auto taken = fd0.take_over();
    ASSERT_EQ(taken.size(), 1u);
    EXPECT_EQ(taken[0].notification.id, 21u);
    EXPECT_EQ(taken[0].notification.args[1], 2u);
    EXPECT_EQ(taken[0].mount_ns, 4026532001u);
    EXPECT_EQ(taken[0].unmounting, 1234u);
    // No temporary file is left beside it, nor taken for a call.
    EXPECT_TRUE(std::filesystem::is_empty(dir));
    std::ofstream(dir / "seccomp:web-1:0.22") << "22 4300 3221225534 166 1 2 0 0 0 0\nunmounting x\n";
    EXPECT_TRUE(fd0.take_over().empty());  // a phase it cannot read: not a call to act on
}

TEST(SavedState, AWriteAnEarlierDaemonDidNotFinishIsRemoved) {
    const auto dir = testing_support::unique_temp_dir("saved") / "records";
    SavedState state(dir);
    state.save(sample());
    std::ofstream(dir / ".web-1.values.json.tmp") << "{\"vers";
    std::ofstream(state.pending_dir() / ".seccomp:web-1:0.77.tmp") << "77 1 2";
    state.remove_unfinished_writes();
    std::vector<std::string> left;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir))
        left.push_back(entry.path().lexically_relative(dir).string());
    std::sort(left.begin(), left.end());
    EXPECT_EQ(left, (std::vector<std::string>{"pending", "web-1.json"}));
}

TEST(SavedState, TheContainersOwnMountsComeBackAsTheyWereSaved) {
    const auto dir = testing_support::unique_temp_dir("saved") / "records";
    SavedState state(dir);
    EXPECT_TRUE(state.load_mounts("web-1").empty());
    const OwnMountTable mounts{{4026532001, {{700, 0}, {701, 700}, {702, 700}}}, {4026532009, {{800, 0}}}};
    state.save_mounts("web-1", mounts);
    EXPECT_EQ(state.load_mounts("web-1"), mounts);
    EXPECT_TRUE(state.load_all().errors.empty());  // not taken for a record
    std::ofstream(dir / "web-1.mounts.json") << "{\"version\": 1, \"namespaces\": {\"x\": 3}}";
    EXPECT_THROW(state.load_mounts("web-1"), std::runtime_error);
}

}  // namespace
}  // namespace ecifs::daemon
