#include "seccomp/own_mounts.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <vector>

namespace {

using ecifs::seccomp::OwnMount;
using ecifs::seccomp::OwnMounts;
using ecifs::sys::Fd;

Fd own_mount_namespace() { return Fd(::open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC)); }


TEST(OwnMounts, RemembersWhatTheContainerMadePerNamespace) {
    OwnMounts own;
    const Fd ns = own_mount_namespace();
    const Fd other(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
    EXPECT_TRUE(own.in(ns.get()).empty());
    const uint64_t dressing[] = {11, 12};
    own.add(own_mount_namespace(), 10, dressing);
    own.add(own_mount_namespace(), 20, {});
    EXPECT_EQ(own.namespaces(), 1u);
    EXPECT_EQ(own.in(ns.get()), (std::vector<OwnMount>{{10, 0}, {11, 10}, {12, 10}, {20, 0}}));
    EXPECT_TRUE(own.in(other.get()).empty());
    // A view taken off alone; then its mount, with the rest of what was placed on it.
    const uint64_t view[] = {11};
    own.remove(ns.get(), view);
    EXPECT_EQ(own.in(ns.get()), (std::vector<OwnMount>{{10, 0}, {12, 10}, {20, 0}}));
    const uint64_t mount[] = {10};
    own.remove(ns.get(), mount);
    EXPECT_EQ(own.in(ns.get()), (std::vector<OwnMount>{{20, 0}}));
}

TEST(OwnMounts, ANamespaceNoThreadIsInAnyMoreIsLetGo) {
    OwnMounts own;
    own.add(own_mount_namespace(), 10, {});
    const pid_t us[] = {::gettid()};
    own.prune(us);
    EXPECT_EQ(own.namespaces(), 1u);
    own.prune({});
    EXPECT_EQ(own.namespaces(), 0u);
    EXPECT_TRUE(own.in(own_mount_namespace().get()).empty());
}

}  // namespace
