#include "sys/credentials.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "temp_dir.hpp"

namespace ecifs::sys {
namespace {

constexpr std::string_view status_text =
    "Name:\tsysctl\n"
    "Uid:\t0\t1000\t0\t1000\n"
    "Gid:\t0\t100\t0\t100\n"
    "Groups:\t4 27 100 \n"
    "CapInh:\t0000000000000000\n"
    "CapPrm:\t000001ffffffffff\n"
    "CapEff:\t0000000000001000\n";

TEST(Credentials, ParsesTheStatusFields) {
    Credentials c;
    ASSERT_TRUE(parse_credentials(status_text, c));
    EXPECT_EQ(c.uid[0], 0u);
    EXPECT_EQ(c.uid[1], 1000u);
    EXPECT_EQ(c.gid[3], 100u);
    EXPECT_EQ(c.groups, (std::vector<gid_t>{4, 27, 100}));
    EXPECT_EQ(c.permitted, 0x1ffffffffffull);
    EXPECT_EQ(c.effective, 1ull << 12);  // CAP_NET_ADMIN
}

TEST(Credentials, AMissingFieldIsAnError) {
    Credentials c;
    EXPECT_FALSE(parse_credentials("Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n", c));
}

TEST(Credentials, ReadsAThreadsOwn) {
    Credentials c;
    ASSERT_EQ(read_credentials(::gettid(), c), 0);
    EXPECT_EQ(c.uid[1], ::geteuid());
    EXPECT_EQ(c.gid[1], ::getegid());
    Credentials gone;
    EXPECT_EQ(read_credentials(0x3ffffff, gone), ESRCH);
}

// Open a file, as the kernel lets the current credentials: 0 or the errno.
int try_open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    ::close(fd);
    return 0;
}

// The kernel decides with the caller's rights while ActingAs lives, with ours after.
TEST(Credentials, ActingAsTakesTheCallersRightsAndGivesThemBack) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    const auto dir = testing_support::unique_temp_dir("credentials");
    const std::string secret = (dir / "secret").string();  // nobody's, 0600
    std::ofstream(secret) << "x";
    ASSERT_EQ(::chmod(secret.c_str(), 0600), 0);
    ASSERT_EQ(::chown(secret.c_str(), 65534, 65534), 0);
    ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);

    Credentials root_without_caps;  // euid 0, no capability: "other" on nobody's file
    {
        ActingAs acting(root_without_caps);
        ASSERT_EQ(acting.error(), 0);
        EXPECT_EQ(try_open(secret), EACCES);
    }
    EXPECT_EQ(try_open(secret), 0);

    Credentials root_with_dac_override;
    root_with_dac_override.effective = 1ull << 1;  // CAP_DAC_OVERRIDE
    {
        ActingAs acting(root_with_dac_override);
        ASSERT_EQ(acting.error(), 0);
        EXPECT_EQ(try_open(secret), 0);
    }

    Credentials user;  // another uid altogether
    user.uid[1] = 1000;
    user.gid[1] = 1000;
    {
        ActingAs acting(user);
        ASSERT_EQ(acting.error(), 0);
        EXPECT_EQ(::geteuid(), 1000u);
        EXPECT_EQ(::getegid(), 1000u);
        EXPECT_EQ(try_open(secret), EACCES);
    }
    EXPECT_EQ(::geteuid(), 0u);
    EXPECT_EQ(::getegid(), 0u);
    EXPECT_EQ(try_open(secret), 0);
    std::filesystem::remove_all(dir);
}

// What a child that took `caller`'s ids, then its capabilities, finds of itself: 0 when
// it holds CAP_SYS_ADMIN (for the helper's joins) between the steps and is exactly the
// caller at the end, else the step that failed.
int become_in_child(const Credentials& caller) {
    const pid_t child = ::fork();
    if (child == 0) {
        if (take_ids(caller) != 0) ::_exit(1);
        Credentials between;
        if (read_credentials(::gettid(), between) != 0) ::_exit(2);
        const uint64_t sys_admin = 1ULL << 21;
        if (!(between.effective & sys_admin) || between.uid[1] != caller.uid[1]) ::_exit(3);
        if (take_capabilities(caller) != 0) ::_exit(4);
        Credentials now;
        if (read_credentials(::gettid(), now) != 0) ::_exit(5);
        ::_exit(now == caller ? 0 : 6);
    }
    int status = 0;
    if (child < 0 || ::waitpid(child, &status, 0) != child || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

TEST(Credentials, TakeIdsKeepsTheCapabilitiesUntilTakeCapabilities) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    Credentials nobody;
    for (int i = 0; i < 4; ++i) nobody.uid[i] = 65534, nobody.gid[i] = 65534;
    nobody.uid[3] = 65533;  // a filesystem id of its own
    nobody.groups = {100, 65534};  // as the kernel keeps them: sorted
    EXPECT_EQ(become_in_child(nobody), 0);  // without any capability

    Credentials admin = nobody;
    admin.permitted = admin.effective = 1ULL << 21;
    admin.inheritable = 0;
    EXPECT_EQ(become_in_child(admin), 0);
}

}  // namespace
}  // namespace ecifs::sys
