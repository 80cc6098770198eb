#pragma once
// Helpers shared by the handler families: kernel-style lines, and rewriting a host file
// line by line so that fields a newer kernel adds still appear.
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace ecifs::handlers {

// One "Label:   value kB" line as fs/proc/meminfo.c's show_val_kb prints it: the label
// left-aligned in 16 columns, then the value in kB (bytes / 1024) right-aligned in 8.
void put_kb(std::string& out, std::string_view label, uint64_t bytes);

// The key of a "Key: value" line: what precedes the first ':' (the whole line without one).
std::string_view line_key(std::string_view line);

// Copies `host_text` into `out` line by line. For each line, `edit(key, out)` may append a
// replacement line and return true; otherwise the host's line is kept as it is.
using LineEditor = std::function<bool(std::string_view key, std::string& out)>;
void rewrite_lines(std::string& out, std::string_view host_text, const LineEditor& edit);

// A meminfo-style field to replace: the line keyed `key` becomes put_kb(key + ":", bytes).
struct KbField {
    std::string_view key;
    uint64_t bytes;
};
// rewrite_lines with a list of fields; fields the host's text lacks are not added.
void rewrite_kb_fields(std::string& out, std::string_view host_text, std::span<const KbField> fields);

// The bytes of a "Key:   123 kB" line of a meminfo-style text; nullopt if absent or malformed.
std::optional<uint64_t> kb_field_bytes(std::string_view text, std::string_view key);

// a - b, or 0 when b > a: emulated figures never go negative nor wrap.
constexpr uint64_t saturating_sub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

// Runs a generator's body; an exception becomes EIO and a log line naming the file
// (fail closed, loudly).
int errno_on_exception(std::string_view file, const std::function<int()>& body);

// A random (version 4) UUID and a newline, as the kernel's random/uuid prints it.
std::string random_uuid();

}  // namespace ecifs::handlers
