#pragma once
// Reading the text of kernel files (/proc, /sys, cgroupfs): lines, whitespace-separated
// fields and "key value" tables, split once into views of the caller's text.
#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ecifs::sys {

// `text` without leading and trailing blanks (space, tab, newline, carriage return).
std::string_view trim(std::string_view text);

// Calls `fn(line)` for every line of `text`, without its '\n'. A final '\n' does not
// start another (empty) line; empty lines inside the text are passed on.
template <class Fn>
void for_each_line(std::string_view text, Fn&& fn) {
    while (!text.empty()) {
        const auto end = text.find('\n');
        fn(text.substr(0, end));
        if (end == std::string_view::npos) return;
        text.remove_prefix(end + 1);
    }
}

// The whitespace-separated fields of `line`; runs of blanks count as one, none is empty.
std::vector<std::string_view> split_fields(std::string_view line);

// split_fields without the vector, for lines every rendering reads (/proc/stat's intr
// line has a field per interrupt): the first field ("" if none), and how many there are.
std::string_view first_field(std::string_view line);
std::size_t count_fields(std::string_view line);

// `text` cut at every `separator`, empty pieces kept ("a,,b" → "a", "", "b"; "" → "").
std::vector<std::string_view> split_on(std::string_view text, char separator);

// The whole of `text` as a decimal number, or nullopt (no blanks, signs only for signed T).
template <class T>
std::optional<T> whole_number(std::string_view text) {
    T value{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return value;
}

// A line's key and value: `line` cut at its first `separator`, the key what precedes it
// (as it is), the value the rest, trimmed ("MemTotal:   16 kB" with ':' → "MemTotal",
// "16 kB"); nullopt when the line has no `separator`.
struct KeyValue {
    std::string_view key, value;
};
std::optional<KeyValue> split_key_value(std::string_view line, char separator);

// The value of `text`'s first line keyed `key` (split_key_value at `separator`), or
// nullopt: one look-up in a file read once (a thread's State, the host's MemTotal),
// where building a KeyValues, for many look-ups, would cost more than it saves.
std::optional<std::string_view> value_of(std::string_view text, std::string_view key, char separator);

// A flat-keyed kernel file, parsed once and then looked up by key as often as needed:
// "key value" lines (memory.stat, cpu.stat, cpuacct.stat; `separator` ' ') or "Key: value"
// ones (/proc/meminfo, /proc/PID/status; `separator` ':'). Each line is split_key_value'd;
// lines without the separator are skipped; a repeated key is looked up as its first line.
// Holds views of `text`, which must outlive it.
class KeyValues {
public:
    explicit KeyValues(std::string_view text, char separator = ' ');

    // The text of `key`'s value; nullopt when there is no such key.
    std::optional<std::string_view> text_of(std::string_view key) const;
    // `key`'s value as a number; nullopt when missing or not a number.
    std::optional<uint64_t> number(std::string_view key) const;
    // Every key and its value text, in the file's order (repeats included).
    const std::vector<std::pair<std::string_view, std::string_view>>& entries() const { return entries_; }

private:
    std::vector<std::pair<std::string_view, std::string_view>> entries_;
    std::unordered_map<std::string_view, std::size_t> index_;  // key → its first entry
};

}  // namespace ecifs::sys
