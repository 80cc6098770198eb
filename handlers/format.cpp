#include "handlers/format.hpp"

#include <algorithm>
#include <cerrno>
#include <exception>
#include <iterator>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "sys/log_limit.hpp"
#include "sys/text.hpp"

namespace ecifs::handlers {

void put_kb(std::string& out, std::string_view label, uint64_t bytes) {
    fmt::format_to(std::back_inserter(out), "{:<16}{:>8} kB\n", label, bytes / 1024);
}

std::string_view line_key(std::string_view line) {
    const auto entry = sys::split_key_value(line, ':');
    return entry ? entry->key : line;
}

void rewrite_lines(std::string& out, std::string_view host_text, const LineEditor& edit) {
    sys::for_each_line(host_text, [&](std::string_view line) {
        if (edit(line_key(line), out)) return;
        out += line;
        // Every line keeps its '\n'; only a last line the host left unterminated has none.
        if (line.data() + line.size() != host_text.data() + host_text.size()) out += '\n';
    });
}

void rewrite_kb_fields(std::string& out, std::string_view host_text, std::span<const KbField> fields) {
    rewrite_lines(out, host_text, [fields](std::string_view key, std::string& line) {
        const auto field = std::find_if(fields.begin(), fields.end(), [key](const KbField& f) { return f.key == key; });
        if (field == fields.end()) return false;
        put_kb(line, fmt::format("{}:", key), field->bytes);
        return true;
    });
}

std::optional<uint64_t> kb_field_bytes(std::string_view text, std::string_view key) {
    const auto value = sys::value_of(text, key, ':');
    if (!value || !value->ends_with(" kB")) return std::nullopt;
    const auto kb = sys::whole_number<uint64_t>(value->substr(0, value->size() - 3));
    if (!kb) return std::nullopt;
    return *kb * 1024;
}

int errno_on_exception(std::string_view file, const std::function<int()>& body) {
    try {
        return body();
    } catch (const std::exception& e) {
        sys::log_limited(spdlog::level::err, "view", file, "{}: {}", file, e.what());
        return EIO;
    }
}

std::string random_uuid() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    uint64_t hi = rng(), lo = rng();
    hi = (hi & ~0xf000ULL) | 0x4000ULL;            // version 4
    lo = (lo & ~(0xcULL << 60)) | (0x8ULL << 60);  // RFC 4122 variant
    return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}\n", hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff, lo >> 48,
                       lo & 0xffffffffffffULL);
}

}  // namespace ecifs::handlers
