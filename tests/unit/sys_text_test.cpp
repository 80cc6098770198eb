// sys/text and sys/mountinfo: the splitters and parsers every kernel-file reader uses.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sys/mountinfo.hpp"
#include "sys/text.hpp"

using namespace ecifs::sys;

namespace {

std::vector<std::string> lines_of(std::string_view text) {
    std::vector<std::string> lines;
    for_each_line(text, [&](std::string_view line) { lines.emplace_back(line); });
    return lines;
}

}  // namespace

TEST(SysText, LinesWithoutAPhantomLastOne) {
    EXPECT_EQ(lines_of("a\nb\n"), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(lines_of("a\n\nb"), (std::vector<std::string>{"a", "", "b"}));
    EXPECT_TRUE(lines_of("").empty());
    EXPECT_EQ(lines_of("\n"), (std::vector<std::string>{""}));
}

TEST(SysText, FieldsSplitAtRunsOfBlanks) {
    EXPECT_EQ(split_fields("  8:0 rbytes=1\t wbytes=2 \n"),
              (std::vector<std::string_view>{"8:0", "rbytes=1", "wbytes=2"}));
    EXPECT_TRUE(split_fields("").empty());
    EXPECT_TRUE(split_fields(" \t\n").empty());
}

TEST(SysText, FirstFieldAndCountAgreeWithSplitFields) {
    for (std::string_view line : {"", "   ", "cpu  1 2 3", "\tintr 5\t6 ", "btime 1700000000", "x"}) {
        const auto fields = split_fields(line);
        EXPECT_EQ(first_field(line), fields.empty() ? std::string_view{} : fields[0]) << line;
        EXPECT_EQ(count_fields(line), fields.size()) << line;
    }
}

TEST(SysText, ValueOfIsTheFirstLineKeyedSo) {
    constexpr std::string_view status = "Name:\tsleep\nState:\tS (sleeping)\nNSpid:\t42\t1\nState:\tR\n";
    EXPECT_EQ(value_of(status, "State", ':'), "S (sleeping)");
    EXPECT_EQ(value_of(status, "NSpid", ':'), "42\t1");
    EXPECT_EQ(value_of(status, "Nam", ':'), std::nullopt);
    EXPECT_EQ(value_of("MemTotal: 16 kB", "MemTotal", ':'), "16 kB");  // no final newline
    EXPECT_EQ(value_of("", "MemTotal", ':'), std::nullopt);
}

TEST(SysText, SplitOnKeepsEmptyPieces) {
    EXPECT_EQ(split_on("a,,b", ','), (std::vector<std::string_view>{"a", "", "b"}));
    EXPECT_EQ(split_on("", ','), (std::vector<std::string_view>{""}));
}

TEST(SysText, TrimAndWholeNumber) {
    EXPECT_EQ(trim(" \t42\n"), "42");
    EXPECT_EQ(trim(" \n"), "");
    EXPECT_EQ(whole_number<uint64_t>("18446744073709551615"), UINT64_MAX);
    EXPECT_FALSE(whole_number<uint64_t>("18446744073709551616"));
    EXPECT_FALSE(whole_number<uint64_t>("12 "));
    EXPECT_FALSE(whole_number<uint64_t>("-1"));
    EXPECT_EQ(whole_number<int64_t>("-1"), -1);
    EXPECT_FALSE(whole_number<int>(""));
}

TEST(SysText, KeyValuesParsedOnceLookedUpMany) {
    const std::string memory_stat = "anon 4096\nfile 8192\nweird x\nnokey\nanon 1\nslab  12 \n";
    const KeyValues values(memory_stat);
    EXPECT_EQ(values.number("anon"), 4096u);  // a repeated key is its first line
    EXPECT_EQ(values.number("file"), 8192u);
    EXPECT_EQ(values.number("slab"), 12u);
    EXPECT_FALSE(values.number("weird"));  // not a number
    EXPECT_EQ(values.text_of("weird"), "x");
    EXPECT_FALSE(values.number("nokey"));
    EXPECT_FALSE(values.number("missing"));
    ASSERT_EQ(values.entries().size(), 5u);
    EXPECT_EQ(values.entries()[4].first, "slab");
}

TEST(SysText, KeyValueCutAtTheFirstSeparator) {
    const auto cpu = split_key_value("core id\t\t: 3 ", ':');
    ASSERT_TRUE(cpu);
    EXPECT_EQ(cpu->key, "core id\t\t");  // the key as it is
    EXPECT_EQ(cpu->value, "3");
    const auto empty = split_key_value("power management:", ':');
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->key, "power management");
    EXPECT_EQ(empty->value, "");
    EXPECT_EQ(split_key_value("a:b:c", ':')->value, "b:c");
    EXPECT_FALSE(split_key_value("no separator", ':'));
}

TEST(SysText, KeyValuesWithAColon) {
    const std::string status = "Name:\tbash\nState:\tS (sleeping)\nNSpid:\t6694\t1\nMemTotal:       16 kB\nnokey\n";
    const KeyValues values(status, ':');
    EXPECT_EQ(values.text_of("Name"), "bash");
    EXPECT_EQ(values.text_of("State"), "S (sleeping)");
    EXPECT_EQ(values.text_of("NSpid"), "6694\t1");
    EXPECT_EQ(values.text_of("MemTotal"), "16 kB");
    EXPECT_FALSE(values.text_of("nokey"));
    EXPECT_FALSE(values.text_of("Mem"));
    EXPECT_EQ(values.entries().size(), 4u);
}

TEST(SysMountinfo, LineWithOptionalFields) {
    const auto m = parse_mountinfo_line(
        "36 35 98:0 /mnt1 /mnt2 rw,noatime shared:1 master:2 - ext3 /dev/root rw,errors=continue");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->mount_id, 36u);
    EXPECT_EQ(m->parent_id, 35u);
    EXPECT_EQ(m->major, 98u);
    EXPECT_EQ(m->minor, 0u);
    EXPECT_EQ(m->root, "/mnt1");
    EXPECT_EQ(m->mount_point, "/mnt2");
    EXPECT_EQ(m->options, (std::vector<std::string>{"rw", "noatime"}));
    EXPECT_EQ(m->optional_fields, (std::vector<std::string>{"shared:1", "master:2"}));
    EXPECT_EQ(m->fstype, "ext3");
    EXPECT_EQ(m->source, "/dev/root");
    EXPECT_EQ(m->super_options, (std::vector<std::string>{"rw", "errors=continue"}));
}

TEST(SysMountinfo, LineWithoutOptionalFields) {
    const auto m =
        parse_mountinfo_line("1254 1253 0:26 /docker/abc /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 rw,nsdelegate");
    ASSERT_TRUE(m);
    EXPECT_TRUE(m->optional_fields.empty());
    EXPECT_EQ(m->fstype, "cgroup2");
    EXPECT_EQ(m->root, "/docker/abc");
    EXPECT_EQ(m->super_options, (std::vector<std::string>{"rw", "nsdelegate"}));
}

TEST(SysMountinfo, EscapesUndoneOnce) {
    const auto m = parse_mountinfo_line(
        R"(99 1 0:50 /a\134b /mnt/with\040space\011tab rw shared:7 - fuse.my\040fs my\040source rw,x=a\054b)");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->root, "/a\\b");
    EXPECT_EQ(m->mount_point, "/mnt/with space\ttab");
    EXPECT_EQ(m->fstype, "fuse.my fs");
    EXPECT_EQ(m->source, "my source");
    EXPECT_EQ(m->super_options, (std::vector<std::string>{"rw", "x=a,b"}));  // an escaped comma stays in
    EXPECT_EQ(unescape_mountinfo(R"(a\0401\\04)"), "a 1\\\\04");                // short or non-octal: kept
    EXPECT_EQ(unescape_mountinfo(R"(\09a)"), "\\09a");
}

TEST(SysMountinfo, EmptySourceKeepsItsPlace) {
    const auto m = parse_mountinfo_line("50 1 0:40 / /x rw,relatime - tmpfs  rw");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->source, "");
    EXPECT_EQ(m->super_options, (std::vector<std::string>{"rw"}));
}

TEST(SysMountinfo, MalformedLinesSkipped) {
    EXPECT_FALSE(parse_mountinfo_line("garbage"));
    EXPECT_FALSE(parse_mountinfo_line("12 x 0:1 / / rw - ext4 a rw"));    // parent not a number
    EXPECT_FALSE(parse_mountinfo_line("12 1 zero / / rw - ext4 a rw"));   // no major:minor
    EXPECT_FALSE(parse_mountinfo_line("12 1 0:1 / / rw ext4 a rw"));      // no separator
    EXPECT_FALSE(parse_mountinfo_line("12 1 0:1 / / rw - ext4"));         // no source
    EXPECT_TRUE(parse_mountinfo_line("12 1 0:1 / / rw - ext4 a"));        // no super options
    const auto mounts =
        parse_mountinfo("garbage\n\n22 1 8:1 / / rw - ext4 /dev/sda1 rw\n23 22 0:5 / /proc rw - proc proc rw\n");
    ASSERT_EQ(mounts.size(), 2u);
    EXPECT_EQ(mounts[1].mount_point, "/proc");
}
