#include "seccomp/mount_helper.hpp"

#include <sys/mount.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "seccomp/table.hpp"

namespace {

namespace mount_helper = ecifs::seccomp::mount_helper;
namespace seccomp = ecifs::seccomp;

TEST(MountHelper, RequestsSurviveTheTrip) {
    mount_helper::Request r;
    r.op = mount_helper::Op::new_mount;
    r.flags = MS_NOSUID | MS_NODEV;
    r.path = "/mnt/with space/\n\xff";  // any bytes a path may hold
    r.source = "proc";
    r.fstype = "proc";
    r.data = std::nullopt;
    r.views = {{"/var/lib/ecifs/containers/c1/proc/meminfo", "meminfo"},
               {"/var/lib/ecifs/containers/c1/proc/sys", "sys"}};
    r.masks = {{"/proc/bus", true}, {"/proc/kcore", false}};
    r.creds.uid[0] = 100000, r.creds.uid[1] = 100001, r.creds.uid[2] = 100002, r.creds.uid[3] = 4294967294u;
    r.creds.gid[0] = 100003, r.creds.gid[3] = 7;
    r.creds.groups = {100004, 100005};
    r.creds.permitted = r.creds.effective = 0x1ffffffffffULL;
    r.creds.inheritable = 1ULL << 40;
    r.confined = true;
    auto back = mount_helper::decode_request(mount_helper::encode(r));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, r);

    mount_helper::Request u;
    u.op = mount_helper::Op::umount;
    u.flags = MNT_DETACH;
    u.path = "/proc/meminfo";
    u.own = {{4711, 0}, {4712, 4711}};
    back = mount_helper::decode_request(mount_helper::encode(u));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, u);

    mount_helper::Request b;
    b.op = mount_helper::Op::bind;
    b.flags = MS_BIND | MS_REC;
    b.path = "/proc";
    b.target = "/mnt/b";
    back = mount_helper::decode_request(mount_helper::encode(b));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, b);
}

TEST(MountHelper, MalformedRequestsAreRefused) {
    mount_helper::Request r;
    r.path = "/x";
    std::string bytes = mount_helper::encode(r);
    EXPECT_FALSE(mount_helper::decode_request(""));
    EXPECT_FALSE(mount_helper::decode_request(bytes.substr(0, bytes.size() - 1)));
    EXPECT_FALSE(mount_helper::decode_request(bytes + "x"));
    bytes[0] = 'Z';
    EXPECT_FALSE(mount_helper::decode_request(bytes));
}

TEST(MountHelper, RequestsWithoutFourIdsAreRefused) {
    mount_helper::Request r;
    auto bytes = mount_helper::encode(r);
    ASSERT_TRUE(mount_helper::decode_request(bytes));
    // The same request with three uids: its encoding differs in the array's header only.
    auto wire = nlohmann::json::from_cbor(bytes);
    wire["uid"].erase(wire["uid"].size() - 1);
    const auto cbor = nlohmann::json::to_cbor(wire);
    std::string error;
    EXPECT_FALSE(mount_helper::decode_request(std::string(cbor.begin(), cbor.end()), &error));
    EXPECT_NE(error.find("uid"), std::string::npos) << error;
}

TEST(MountHelper, Replies) {
    mount_helper::Reply r;
    r.error = 16;
    r.message = "placing the view meminfo: Invalid argument";
    auto back = mount_helper::decode_reply(mount_helper::encode(r));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, r);
    mount_helper::Reply k;
    k.let_kernel = true;
    EXPECT_EQ(*mount_helper::decode_reply(mount_helper::encode(k)), k);
    mount_helper::Reply made;
    made.made = 90;
    made.dressing = {91, 92};
    made.gone = {80, 81};
    EXPECT_EQ(*mount_helper::decode_reply(mount_helper::encode(made)), made);
    EXPECT_FALSE(mount_helper::decode_reply("\x01"));
    mount_helper::Reply negative;
    negative.error = -1;
    EXPECT_FALSE(mount_helper::decode_reply(mount_helper::encode(negative)));
    std::string truncated = mount_helper::encode(made);
    truncated.pop_back();
    EXPECT_FALSE(mount_helper::decode_reply(truncated));
}

TEST(MountHelper, OnlyUnconfinedCallersGetAMountDoneForThem) {
    EXPECT_FALSE(mount_helper::confined_by_lsm(""));
    EXPECT_FALSE(mount_helper::confined_by_lsm("unconfined\n"));
    EXPECT_TRUE(mount_helper::confined_by_lsm("docker-default (enforce)\n"));
    EXPECT_TRUE(mount_helper::confined_by_lsm(std::string_view("system_u:system_r:container_t:s0:c1,c2\0", 40)));
}

TEST(SeccompTable, TrappedSyscallsByArchitecture) {
    using seccomp::Syscall;
    EXPECT_EQ(seccomp::trapped_syscalls().size(), 4u);
#if defined(__x86_64__)
    constexpr uint32_t x86_64 = 0xc000003e, i386 = 0x40000003;
    EXPECT_EQ(seccomp::identify(x86_64, 99), Syscall::sysinfo);
    EXPECT_EQ(seccomp::identify(x86_64, 165), Syscall::mount);
    EXPECT_EQ(seccomp::identify(x86_64, 166), Syscall::umount2);
    EXPECT_EQ(seccomp::identify(i386, 116), Syscall::sysinfo);
    EXPECT_EQ(seccomp::identify(i386, 21), Syscall::mount);
    EXPECT_EQ(seccomp::identify(i386, 52), Syscall::umount2);
    EXPECT_EQ(seccomp::identify(i386, 22), Syscall::umount);  // x86_64 has no umount
    EXPECT_EQ(seccomp::identify(x86_64, 0x40000000 + 99), Syscall::sysinfo);  // x32
    EXPECT_EQ(seccomp::identify(x86_64, 0), std::nullopt);                    // read
    EXPECT_EQ(seccomp::identify(i386, 99), std::nullopt);                     // i386 99 is statfs
    EXPECT_EQ(seccomp::abi_of(x86_64), seccomp::Abi::native);
    EXPECT_EQ(seccomp::abi_of(i386), seccomp::Abi::compat32);
    EXPECT_EQ(seccomp::profile_architectures().front(), "SCMP_ARCH_X86_64");
#endif
}

}  // namespace
