#include "emulation/seccomp_mounts.hpp"

#include <sys/mount.h>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace ecifs::emulation::seccomp;

std::string fixture(const char* name) {
    std::ifstream in(std::string(ECIFS_FIXTURES_DIR) + "/seccomp/" + name);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<MountEntry> container_mounts() { return parse_mountinfo(fixture("container-mountinfo.txt")); }

TEST(SeccompMounts, KindFollowsTheKernelsOrder) {
    EXPECT_EQ(mount_kind(0), MountKind::new_fs);
    EXPECT_EQ(mount_kind(MS_NOSUID | MS_NODEV | MS_NOEXEC), MountKind::new_fs);
    EXPECT_EQ(mount_kind(MS_MGC_VAL | MS_RDONLY), MountKind::new_fs);  // the old magic is dropped
    EXPECT_EQ(mount_kind(MS_REMOUNT), MountKind::kernel);
    EXPECT_EQ(mount_kind(MS_REMOUNT | MS_BIND | MS_RDONLY), MountKind::kernel);
    EXPECT_EQ(mount_kind(MS_BIND), MountKind::bind);
    EXPECT_EQ(mount_kind(MS_BIND | MS_REC), MountKind::kernel);
    EXPECT_EQ(mount_kind(MS_BIND | MS_PRIVATE), MountKind::bind);  // MS_BIND wins, as in path_mount
    EXPECT_EQ(mount_kind(MS_REC | MS_PRIVATE), MountKind::kernel);
    EXPECT_EQ(mount_kind(MS_SHARED), MountKind::kernel);
    EXPECT_EQ(mount_kind(MS_MOVE), MountKind::move);
    EXPECT_EQ(strip_magic(MS_MGC_VAL | MS_NOSUID), static_cast<uint64_t>(MS_NOSUID));
}

TEST(SeccompMounts, ViewsBelowAFilesystem) {
    const std::string_view views[] = {"proc/meminfo", "proc/uptime", "sys/devices/system/cpu/online", "proc/sys",
                                      "sys/kernel"};
    EXPECT_EQ(views_below("proc", views), (std::vector<std::string>{"meminfo", "uptime", "sys"}));
    EXPECT_EQ(views_below("sysfs", views), (std::vector<std::string>{"devices/system/cpu/online", "kernel"}));
    EXPECT_TRUE(views_below("tmpfs", views).empty());
    EXPECT_TRUE(carries_views_type("proc"));
    EXPECT_TRUE(carries_views_type("sysfs"));
    EXPECT_FALSE(carries_views_type("tmpfs"));
    EXPECT_FALSE(carries_views_type("procfs"));
}

TEST(SeccompMounts, NewMountAsFsconfigSeesIt) {
    NewMount m = translate_new_mount(MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2,gid=5,subset=pid");
    ASSERT_EQ(m.options.size(), 3u);
    EXPECT_EQ(m.options[0].first, "hidepid");
    EXPECT_EQ(m.options[0].second, "2");
    EXPECT_EQ(m.options[2].first, "subset");
    EXPECT_TRUE(m.sb_flags.empty());
    EXPECT_EQ(m.attributes, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);  // relatime is 0
    EXPECT_FALSE(m.read_only);

    m = translate_new_mount(MS_RDONLY | MS_NOATIME | MS_SILENT, "flag,,k=");
    EXPECT_EQ(m.sb_flags, std::vector<std::string>{"ro"});
    EXPECT_EQ(m.attributes, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOATIME);
    EXPECT_TRUE(m.read_only);
    ASSERT_EQ(m.options.size(), 2u);
    EXPECT_EQ(m.options[0].second, std::nullopt);  // a flag
    EXPECT_EQ(m.options[1].second, "");            // an empty value

    m = translate_new_mount(MS_STRICTATIME | MS_NOATIME | MS_LAZYTIME | MS_NOSYMFOLLOW, "");
    EXPECT_EQ(m.attributes, MOUNT_ATTR_STRICTATIME | MOUNT_ATTR_NOSYMFOLLOW);
    EXPECT_EQ(m.sb_flags, std::vector<std::string>{"lazytime"});
}

TEST(SeccompMounts, ParsesARealContainersMountinfo) {
    const auto mounts = container_mounts();
    ASSERT_EQ(mounts.size(), 32u);
    EXPECT_EQ(mounts[1].id, 67u);
    EXPECT_EQ(mounts[1].parent, 66u);
    EXPECT_EQ(mounts[1].mount_point, "/proc");
    EXPECT_EQ(mounts[1].fstype, "proc");
    EXPECT_EQ(mounts[8].mount_point, "/proc/meminfo");
    EXPECT_EQ(mounts[8].root, "/proc/meminfo");
    EXPECT_EQ(mounts[8].source, "ecifs");
    EXPECT_TRUE(is_view(mounts[8]));
    EXPECT_FALSE(is_view(mounts[1]));
    EXPECT_EQ(mounts.back().mount_point, "/mnt/with space");  // \040 undone
    EXPECT_TRUE(parse_mountinfo("garbage\n\n12 x 0:1 / / rw - ext4 a rw\n").empty());
}

TEST(SeccompMounts, UmountOfViewsAndWhatCarriesThemIsBusy) {
    const auto mounts = container_mounts();
    EXPECT_EQ(classify_umount(mounts, 74, true), Verdict::busy);  // /proc/meminfo
    EXPECT_EQ(classify_umount(mounts, 85, true), Verdict::busy);  // /proc/sys
    EXPECT_EQ(classify_umount(mounts, 78, true), Verdict::busy);  // /sys/kernel
    EXPECT_EQ(classify_umount(mounts, 67, true), Verdict::busy);  // /proc
    EXPECT_EQ(classify_umount(mounts, 72, true), Verdict::busy);  // /sys
    EXPECT_EQ(classify_umount(mounts, 53, true), Verdict::busy);  // the procfs the trapper made
    EXPECT_EQ(classify_umount(mounts, 42, true), Verdict::busy);  // and its views
    // Not ours: the kernel decides.
    EXPECT_EQ(classify_umount(mounts, 54, true), Verdict::kernel_decides);  // a tmpfs
    EXPECT_EQ(classify_umount(mounts, 44, true), Verdict::kernel_decides);  // /proc/bus (runc's)
    EXPECT_EQ(classify_umount(mounts, 70, true), Verdict::kernel_decides);  // /dev/shm
    EXPECT_EQ(classify_umount(mounts, 999, true), Verdict::kernel_decides);
    // Not a mount's root (e.g. /proc/sys/kernel): the kernel's EINVAL comes anyway.
    EXPECT_EQ(classify_umount(mounts, 85, false), Verdict::kernel_decides);
}

TEST(SeccompMounts, MoveOfViewsIsRefusedAsForALockedMount) {
    const auto mounts = container_mounts();
    EXPECT_EQ(classify_move(mounts, 74, true), Verdict::locked);
    EXPECT_EQ(classify_move(mounts, 67, true), Verdict::locked);
    EXPECT_EQ(classify_move(mounts, 54, true), Verdict::kernel_decides);
    EXPECT_EQ(classify_move(mounts, 74, false), Verdict::kernel_decides);
}

TEST(SeccompMounts, NonRecursiveBindOfAProcWithViewsBelowIsRefused) {
    const auto mounts = container_mounts();
    EXPECT_EQ(classify_bind(mounts, 67, "/proc"), Verdict::locked);
    EXPECT_EQ(classify_bind(mounts, 72, "/sys"), Verdict::locked);
    EXPECT_EQ(classify_bind(mounts, 72, "/sys/devices"), Verdict::locked);  // cpu/online below
    EXPECT_EQ(classify_bind(mounts, 53, "/mnt/p"), Verdict::locked);
    // No view at or below the path: a plain bind.
    EXPECT_EQ(classify_bind(mounts, 67, "/proc/self"), Verdict::kernel_decides);
    EXPECT_EQ(classify_bind(mounts, 67, "/proc/1/ns"), Verdict::kernel_decides);
    EXPECT_EQ(classify_bind(mounts, 72, "/sys/fs"), Verdict::kernel_decides);
    EXPECT_EQ(classify_bind(mounts, 72, "/sys/devices/system/cpu/cpu0"), Verdict::kernel_decides);
    // A view itself, or anything not proc/sysfs.
    EXPECT_EQ(classify_bind(mounts, 85, "/proc/sys"), Verdict::kernel_decides);
    EXPECT_EQ(classify_bind(mounts, 66, "/"), Verdict::kernel_decides);
    // Path prefixes are whole components.
    EXPECT_EQ(classify_bind(mounts, 67, "/proc/meminfo2"), Verdict::kernel_decides);
}

}  // namespace
