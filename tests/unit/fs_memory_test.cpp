// What a mount holds (issue 11, item 3): dynamic inodes counted as the kernel counts its
// lookups and dropped at zero (fs/dynamic_nodes.hpp), and snapshots shared and capped
// (fs/snapshots.hpp), alone and through the operations.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <ranges>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "fixture_trees.hpp"
#include "temp_dir.hpp"
#include "fs/dynamic_nodes.hpp"
#include "fs/open_file.hpp"
#include "fs/operations.hpp"
#include "fs/snapshots.hpp"

namespace ecifs::fs {
namespace {

const Node root_node{.ino = 7, .parent = 1, .name = "sys", .file = nullptr, .subtree = nullptr, .children = {}};

TEST(DynamicNodes, AnInodeLivesWhileReferenced) {
    DynamicNodes nodes(100);
    const fuse_ino_t a = nodes.intern(root_node, "net/a");
    EXPECT_EQ(nodes.intern(root_node, "net/a"), a);  // two lookups: two references
    EXPECT_EQ(nodes.size(), 1u);
    EXPECT_FALSE(nodes.release(a, 1));
    ASSERT_TRUE(nodes.find(a));
    EXPECT_EQ(nodes.find(a)->path, "net/a");
    EXPECT_TRUE(nodes.release(a, 1));
    EXPECT_FALSE(nodes.find(a));
    EXPECT_EQ(nodes.size(), 0u);
}

TEST(DynamicNodes, OneForgetTakesBackItsWholeCount) {
    DynamicNodes nodes(100);
    const fuse_ino_t a = nodes.intern(root_node, "a");
    nodes.intern(root_node, "a");
    nodes.intern(root_node, "a");
    EXPECT_TRUE(nodes.release(a, 3));
    EXPECT_EQ(nodes.size(), 0u);
}

TEST(DynamicNodes, APathMadeAgainGetsANewNumber) {
    DynamicNodes nodes(100);
    const fuse_ino_t first = nodes.intern(root_node, "conf/d1");
    nodes.release(first, 1);
    const fuse_ino_t second = nodes.intern(root_node, "conf/d1");
    EXPECT_NE(first, second);  // the kernel may still hold a FORGET for `first` in flight
    EXPECT_FALSE(nodes.release(first, 1));  // a late one changes nothing
    EXPECT_TRUE(nodes.find(second));
}

// Inode numbers are the paths': a daemon of another version, whose table has other
// files, gives the same number to the same path (docs/restart.md: an upgrade).
TEST(NodeTable, APathHasTheSameInodeInEveryTable) {
    using handlers::FileEntry;
    const FileEntry old_files[] = {{.path = "proc/meminfo", .mode = 0444}, {.path = "proc/uptime", .mode = 0444}};
    const FileEntry new_files[] = {{.path = "proc/cpuinfo", .mode = 0444}, {.path = "proc/uptime", .mode = 0444},
                                   {.path = "proc/meminfo", .mode = 0444}, {.path = "sys/a/b", .mode = 0444}};
    const NodeTable before(old_files, {}), after(new_files, {});
    for (const char* path : {"proc", "proc/meminfo", "proc/uptime"}) {
        const Node* a = &before.root();
        const Node* b = &after.root();
        for (auto part : std::views::split(std::string_view(path), '/')) {
            a = before.child(*a, std::string_view(part.begin(), part.end()));
            b = after.child(*b, std::string_view(part.begin(), part.end()));
        }
        ASSERT_TRUE(a && b) << path;
        EXPECT_EQ(a->ino, b->ino) << path;
        EXPECT_LT(a->ino, NodeTable::first_dynamic_ino) << path;  // fits a 32-bit stat
    }
}

// A daemon that serves a mount after a restart (docs/restart.md) answers the numbers
// the earlier one gave, for the inodes still held, and gives new ones above them.
TEST(DynamicNodes, TheJournalGivesTheNextDaemonTheSameNumbers) {
    const NodeTable& table = NodeTable::instance();
    const Node* proc = table.child(table.root(), "proc");
    ASSERT_TRUE(proc);
    const Node* sys = table.child(*proc, "sys");
    ASSERT_TRUE(sys && sys->subtree);
    const auto journal = testing_support::unique_temp_dir("journal") / "nodes";
    fuse_ino_t kept = 0, dropped = 0;
    {
        DynamicNodes first(NodeTable::first_dynamic_ino);
        first.keep_journal(journal, table);
        kept = first.intern(*sys, "net/core/somaxconn");
        dropped = first.intern(*sys, "kernel/hostname");
        first.release(dropped, 1);
    }
    DynamicNodes second(NodeTable::first_dynamic_ino);
    second.keep_journal(journal, table);
    ASSERT_TRUE(second.find(kept));
    EXPECT_EQ(second.find(kept)->path, "net/core/somaxconn");
    EXPECT_EQ(second.find(kept)->root, sys);
    EXPECT_FALSE(second.find(dropped));
    EXPECT_EQ(second.intern(*sys, "net/core/somaxconn"), kept);
    EXPECT_GT(second.intern(*sys, "kernel/hostname"), std::max(kept, dropped));
    EXPECT_FALSE(second.release(kept, 1000));  // its count went with the first daemon: held
}

// A container making and deleting interfaces in a loop does not grow the journal for
// ever, and what it holds still comes back.
TEST(DynamicNodes, TheJournalStaysSmallUnderChurn) {
    const NodeTable& table = NodeTable::instance();
    const Node* sys = table.child(*table.child(table.root(), "proc"), "sys");
    ASSERT_TRUE(sys && sys->subtree);
    const auto journal = testing_support::unique_temp_dir("journal") / "nodes";
    fuse_ino_t kept = 0;
    {
        DynamicNodes nodes(NodeTable::first_dynamic_ino);
        nodes.keep_journal(journal, table);
        kept = nodes.intern(*sys, "net/core/somaxconn");
        for (int i = 0; i < 100000; ++i)
            nodes.release(nodes.intern(*sys, "net/ipv4/conf/dummy" + std::to_string(i) + "/forwarding"), 1);
        EXPECT_LT(std::filesystem::file_size(journal), 200u * 1024);
    }
    DynamicNodes again(NodeTable::first_dynamic_ino);
    again.keep_journal(journal, table);
    EXPECT_EQ(again.size(), 1u);
    ASSERT_TRUE(again.find(kept));
    EXPECT_EQ(again.find(kept)->path, "net/core/somaxconn");
    EXPECT_GT(again.intern(*sys, "kernel/hostname"), kept + 100000);  // no number given twice
}

TEST(DynamicNodes, UnknownAndStaticInodesAreLeftAlone) {
    DynamicNodes nodes(100);
    EXPECT_FALSE(nodes.release(1, 1));
    EXPECT_FALSE(nodes.release(99, 5));
    EXPECT_EQ(nodes.size(), 0u);
}

TEST(Snapshots, EqualTextsShareOneCopy) {
    Snapshots snapshots(1000);
    Content a = snapshots.keep(5, std::string(300, 'x'));
    Content b = snapshots.keep(5, std::string(300, 'x'));
    EXPECT_EQ(a.get(), b.get());
    EXPECT_EQ(snapshots.held(), 300u);
    Content other_inode = snapshots.keep(6, std::string(300, 'x'));
    EXPECT_NE(other_inode.get(), a.get());
    EXPECT_EQ(snapshots.held(), 600u);
}

TEST(Snapshots, PastTheCapNothingIsKeptAndTheTextStays) {
    Snapshots snapshots(1000);
    Content a = snapshots.keep(5, std::string(800, 'a'));
    std::string text(300, 'b');
    EXPECT_FALSE(snapshots.keep(5, std::move(text)));
    EXPECT_EQ(text, std::string(300, 'b'));
    EXPECT_EQ(snapshots.keep(5, std::string(800, 'a')).get(), a.get());  // shared: within
    a.reset();
    EXPECT_EQ(snapshots.held(), 0u);
    EXPECT_TRUE(snapshots.keep(5, std::string(300, 'b')));
}

TEST(Snapshots, ANewTextReplacesTheSharedOneWhileTheOldLives) {
    Snapshots snapshots(1000);
    Content old_text = snapshots.keep(5, "old\n");
    Content new_text = snapshots.keep(5, "new text\n");
    EXPECT_EQ(snapshots.held(), 13u);
    old_text.reset();  // must not forget the newer one
    EXPECT_EQ(snapshots.keep(5, "new text\n").get(), new_text.get());
    EXPECT_EQ(snapshots.held(), 9u);
}

TEST(Snapshots, ASnapshotMayOutliveItsMount) {
    Content kept;
    {
        Snapshots snapshots(1000);
        kept = snapshots.keep(1, "text\n");
    }
    EXPECT_EQ(*kept, "text\n");
}

// The operations over a subtree whose names come and go, and a file whose text the
// test sets; a kernel that keeps the last reply's figures.
std::vector<std::string> names;  // what the subtree has: files at its root
std::string text = "first\n";    // what every file renders
int renders = 0;

class ChangingSubtree : public handlers::Subtree {
public:
    int stat(const handlers::Context&, std::string_view path, handlers::NodeInfo& out) const override {
        if (path.empty()) out = {.is_dir = true, .mode = 0555};
        else if (std::find(names.begin(), names.end(), path) != names.end()) out = {.mode = 0444};
        else return ENOENT;
        return 0;
    }
    int list(const handlers::Context&, std::string_view,
             std::vector<std::pair<std::string, handlers::NodeInfo>>& out) const override {
        for (const auto& name : names) out.emplace_back(name, handlers::NodeInfo{.mode = 0444});
        return 0;
    }
    int read(const handlers::Context&, std::string_view, std::string& out) const override {
        ++renders;
        out = text;
        return 0;
    }
    int write(const handlers::Context&, std::string_view, std::string_view) const override { return EACCES; }
};
ChangingSubtree changing;
const handlers::SubtreeEntry subtrees[] = {{"tree", &changing}};

class LastReply : public Kernel {
public:
    int error = 0;
    fuse_ino_t ino = 0;
    uint64_t fh = 0;
    std::string data;
    int entry_result = 0;  // -ENOENT: the LOOKUP was interrupted

    int reply_err(fuse_req_t, int err) override { return error = err, 0; }
    void reply_none(fuse_req_t) override {}
    int reply_entry(fuse_req_t, const fuse_entry_param& e) override { return error = 0, ino = e.ino, entry_result; }
    int reply_attr(fuse_req_t, const struct stat&, double) override { return error = 0; }
    int reply_open(fuse_req_t, const fuse_file_info& fi) override { return error = 0, fh = fi.fh, 0; }
    int reply_buf(fuse_req_t, const char* d, size_t size) override { return error = 0, data.assign(d, size), 0; }
    int reply_write(fuse_req_t, size_t) override { return 0; }
    int reply_poll(fuse_req_t, unsigned) override { return 0; }
    int reply_readlink(fuse_req_t, const char*) override { return 0; }
    int notify_store(fuse_ino_t, off_t, std::string_view) override { return 0; }
};

class MountMemory : public ::testing::Test {
protected:
    MountMemory()
        : container(std::make_shared<emulation::Container>("c1", 100000, 100000, test_fixtures::fixture_host)),
          table({}, subtrees), state(container, table, io, false) {
        auto k = std::make_unique<LastReply>();
        kernel = k.get();
        state.kernel = std::move(k);
        state.run_blocking = [](std::function<void()> job) { job(); };
        names = {"a", "b"};
        text = "first\n";
    }

    Request request() { return {reinterpret_cast<fuse_req_t>(++requests), state, ::getpid()}; }
    fuse_ino_t tree() {
        op::lookup(request(), FUSE_ROOT_ID, "tree");
        return kernel->ino;
    }
    fuse_ino_t lookup(const char* name) {
        op::lookup(request(), tree(), name);
        return kernel->error ? 0 : kernel->ino;
    }
    fuse_file_info open(fuse_ino_t ino) {
        fuse_file_info fi{};
        op::open(request(), ino, &fi);
        fi.fh = kernel->fh;
        return fi;
    }
    std::string read(fuse_ino_t ino, fuse_file_info fi, off_t offset, size_t size = 4096) {
        fi.lock_owner = 1;  // a read(2)
        op::read(request(), ino, size, offset, &fi);
        return kernel->data;
    }

    boost::asio::io_context io;
    std::shared_ptr<const emulation::Container> container;
    NodeTable table;
    MountState state;
    LastReply* kernel = nullptr;
    std::uintptr_t requests = 0;
};

TEST_F(MountMemory, ALookedUpNameGoesAtItsForget) {
    const size_t start = state.node_count();
    const fuse_ino_t a = lookup("a");
    EXPECT_EQ(lookup("a"), a);
    EXPECT_EQ(state.node_count(), start + 1);
    op::forget(request(), a, 1);
    EXPECT_EQ(state.node_count(), start + 1);  // one lookup still counted
    op::getattr(request(), a, nullptr);
    EXPECT_EQ(kernel->error, 0);
    fuse_forget_data last{a, 1};
    op::forget_multi(request(), 1, &last);
    EXPECT_EQ(state.node_count(), start);
    op::getattr(request(), a, nullptr);
    EXPECT_EQ(kernel->error, ENOENT);
}

TEST_F(MountMemory, AnInterruptedLookupIsNotCounted) {
    const size_t start = state.node_count();
    kernel->entry_result = -ENOENT;
    lookup("a");
    EXPECT_EQ(state.node_count(), start);
}

TEST_F(MountMemory, AListingHoldsItsNamesUntilReleased) {
    const size_t start = state.node_count();
    const fuse_ino_t dir = tree();
    for (int i = 0; i < 2000; ++i) names.push_back("d" + std::to_string(i));
    fuse_file_info fi{};
    op::opendir(request(), dir, &fi);
    fi.fh = kernel->fh;
    EXPECT_EQ(state.node_count(), start + 2002);
    const fuse_ino_t a = lookup("a");  // the kernel's reference outlives the listing's
    op::releasedir(request(), dir, &fi);
    EXPECT_EQ(state.node_count(), start + 1);
    op::forget(request(), a, 1);
    EXPECT_EQ(state.node_count(), start);
}

TEST_F(MountMemory, OpensOfEqualTextHoldOneCopy) {
    const fuse_ino_t a = lookup("a");
    text = std::string(1 << 20, 'x');
    std::vector<fuse_file_info> handles;
    for (int i = 0; i < 100; ++i) handles.push_back(open(a));
    EXPECT_EQ(state.snapshots.held(), size_t{1} << 20);
    for (auto& fi : handles) op::release(request(), a, &fi);
    EXPECT_EQ(state.snapshots.held(), 0u);
}

TEST_F(MountMemory, PastTheCapAHandleRendersEachRead) {
    const fuse_ino_t a = lookup("a"), b = lookup("b");
    text = std::string(Snapshots::default_cap - 3, 'x');
    fuse_file_info big = open(a);
    text = "second\n";
    fuse_file_info past = open(b);  // 7 bytes more would pass the cap
    EXPECT_EQ(state.snapshots.held(), Snapshots::default_cap - 3);
    renders = 0;
    EXPECT_EQ(read(b, past, 0), "second\n");
    text = "third!\n";
    EXPECT_EQ(read(b, past, 3), "rd!\n");  // a new rendering, not a snapshot
    EXPECT_EQ(renders, 2);
    op::release(request(), a, &big);
    EXPECT_EQ(read(b, past, 0), "third!\n");  // under the cap again: kept
    text = "fourth\n";
    EXPECT_EQ(read(b, past, 3), "rd!\n");
    op::release(request(), b, &past);
    EXPECT_EQ(state.snapshots.held(), 0u);
}

}  // namespace
}  // namespace ecifs::fs
