#include "handlers/format.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <exception>
#include <iterator>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace ecifs::handlers {

void put_kb(std::string& out, std::string_view label, uint64_t bytes) {
    fmt::format_to(std::back_inserter(out), "{:<16}{:>8} kB\n", label, bytes / 1024);
}

std::string_view line_key(std::string_view line) { return line.substr(0, line.find(':')); }

void rewrite_lines(std::string& out, std::string_view host_text, const LineEditor& edit) {
    while (!host_text.empty()) {
        const auto end = std::min(host_text.find('\n'), host_text.size() - 1) + 1;
        const auto line = host_text.substr(0, end);
        host_text.remove_prefix(end);
        if (!edit(line_key(line), out)) out += line;
    }
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
    for (size_t start = 0; start < text.size();) {
        const auto end = std::min(text.find('\n', start), text.size());
        auto line = text.substr(start, end - start);
        start = end + 1;
        if (line_key(line) != key || line.size() == key.size()) continue;
        line.remove_prefix(key.size() + 1);
        line.remove_prefix(std::min(line.find_first_not_of(' '), line.size()));
        uint64_t kb = 0;
        const auto [rest, ec] = std::from_chars(line.data(), line.data() + line.size(), kb);
        if (ec != std::errc{} || std::string_view(rest, line.data() + line.size()) != " kB") return std::nullopt;
        return kb * 1024;
    }
    return std::nullopt;
}

int errno_on_exception(std::string_view file, const std::function<int()>& body) {
    try {
        return body();
    } catch (const std::exception& e) {
        spdlog::error("{}: {}", file, e.what());
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
