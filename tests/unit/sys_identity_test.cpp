// Per-container identities: DMI product_uuid and kernel.random.boot_id are stable for a
// container and differ between containers; kernel.random.uuid differs on every read.
#include <gtest/gtest.h>

#include <cctype>
#include <set>

#include "emulation/container.hpp"
#include "handlers/families.hpp"
#include "handlers/format.hpp"

namespace ecifs::handlers {
namespace {

// "xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx\n", lower-case hex: a version 4 UUID line.
bool is_uuid_line(const std::string& s) {
    if (s.size() != 37 || s.back() != '\n' || s[14] != '4' || std::string("89ab").find(s[19]) == std::string::npos)
        return false;
    for (size_t i = 0; i < 36; ++i) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !(std::isdigit(static_cast<unsigned char>(s[i])) || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    }
    return true;
}

std::string product_uuid(const emulation::Container& c) {
    std::string out;
    EXPECT_EQ(show_product_uuid(Context{c, 0}, out), 0);
    return out;
}

TEST(SysIdentity, UuidLineCheckRejectsNearMisses) {
    EXPECT_TRUE(is_uuid_line("0123abcd-ef01-4234-8678-9abcdef01234\n"));
    EXPECT_FALSE(is_uuid_line("0123abcd-ef01-4234-8678-9abcdef01234"));    // no newline
    EXPECT_FALSE(is_uuid_line("0123abcd-ef01-3234-8678-9abcdef01234\n"));  // version 3
    EXPECT_FALSE(is_uuid_line("0123abcd-ef01-4234-c678-9abcdef01234\n"));  // variant
    EXPECT_FALSE(is_uuid_line("0123ABCD-ef01-4234-8678-9abcdef01234\n"));  // upper case
}

TEST(SysIdentity, ProductUuidIsStablePerContainerAndUniqueAcrossThem) {
    emulation::Container a("a", 0, 0), b("b", 0, 0);
    std::string first = product_uuid(a);
    EXPECT_TRUE(is_uuid_line(first)) << first;
    EXPECT_EQ(product_uuid(a), first);
    EXPECT_NE(product_uuid(b), first);
}

TEST(SysIdentity, RandomUuidsAreVersion4AndDistinct) {
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
        std::string u = random_uuid();
        EXPECT_TRUE(is_uuid_line(u)) << u;
        seen.insert(u);
    }
    EXPECT_EQ(seen.size(), 100u);
}

TEST(SysIdentity, BootIdIsStablePerContainerAndUniqueAcrossThem) {
    emulation::Container a("a", 0, 0), b("b", 0, 0);
    std::string a1, a2, b1;
    ASSERT_EQ(proc_sys().read(Context{a, 0}, "kernel/random/boot_id", a1), 0);
    ASSERT_EQ(proc_sys().read(Context{a, 0}, "kernel/random/boot_id", a2), 0);
    ASSERT_EQ(proc_sys().read(Context{b, 0}, "kernel/random/boot_id", b1), 0);
    EXPECT_TRUE(is_uuid_line(a1)) << a1;
    EXPECT_EQ(a1, a2);
    EXPECT_NE(a1, b1);
}

}  // namespace
}  // namespace ecifs::handlers
