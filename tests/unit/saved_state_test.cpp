// What a daemon keeps on disk for the next one (daemon/saved_state.hpp, docs/restart.md).
#include "daemon/saved_state.hpp"

#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

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
    EXPECT_EQ(state.load_values("web-1").at("kernel/panic"), "7\n");
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
    state.erase("web-1");
    EXPECT_TRUE(std::filesystem::is_empty(dir));
}

TEST(SavedState, AProcessIsKnownByItsPidAndStart) {
    const auto mine = process_start(::getpid());
    ASSERT_TRUE(mine);
    EXPECT_EQ(process_start(::getpid()), mine);
    EXPECT_FALSE(process_start(0));
}

}  // namespace
}  // namespace ecifs::daemon
