#include "sys/text.hpp"

namespace ecifs::sys {

namespace {

constexpr std::string_view blanks = " \t\n\r";

}  // namespace

std::string_view trim(std::string_view text) {
    const auto first = text.find_first_not_of(blanks);
    if (first == std::string_view::npos) return {};
    return text.substr(first, text.find_last_not_of(blanks) - first + 1);
}

std::vector<std::string_view> split_fields(std::string_view line) {
    std::vector<std::string_view> fields;
    for (auto start = line.find_first_not_of(blanks); start != std::string_view::npos;
         start = line.find_first_not_of(blanks, start)) {
        const auto end = line.find_first_of(blanks, start);
        fields.push_back(line.substr(start, end - start));
        if (end == std::string_view::npos) break;
        start = end;
    }
    return fields;
}

std::string_view first_field(std::string_view line) {
    const auto start = line.find_first_not_of(blanks);
    if (start == std::string_view::npos) return {};
    return line.substr(start, line.find_first_of(blanks, start) - start);
}

std::size_t count_fields(std::string_view line) {
    std::size_t count = 0;
    for (auto start = line.find_first_not_of(blanks); start != std::string_view::npos;
         start = line.find_first_not_of(blanks, line.find_first_of(blanks, start)))
        ++count;
    return count;
}

std::vector<std::string_view> split_on(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    for (std::size_t start = 0;;) {
        const auto end = text.find(separator, start);
        parts.push_back(text.substr(start, end - start));
        if (end == std::string_view::npos) return parts;
        start = end + 1;
    }
}

std::optional<KeyValue> split_key_value(std::string_view line, char separator) {
    const auto at = line.find(separator);
    if (at == std::string_view::npos) return std::nullopt;
    return KeyValue{line.substr(0, at), trim(line.substr(at + 1))};
}

std::optional<std::string_view> value_of(std::string_view text, std::string_view key, char separator) {
    std::optional<std::string_view> found;
    while (!found && !text.empty()) {
        const auto end = text.find('\n');
        const auto entry = split_key_value(text.substr(0, end), separator);
        if (entry && entry->key == key) found = entry->value;
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    }
    return found;
}

KeyValues::KeyValues(std::string_view text, char separator) {
    for_each_line(text, [&](std::string_view line) {
        const auto entry = split_key_value(line, separator);
        if (!entry) return;
        index_.emplace(entry->key, entries_.size());  // keeps a repeated key's first line
        entries_.emplace_back(entry->key, entry->value);
    });
}

std::optional<std::string_view> KeyValues::text_of(std::string_view key) const {
    const auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    return entries_[it->second].second;
}

std::optional<uint64_t> KeyValues::number(std::string_view key) const {
    const auto value = text_of(key);
    return value ? whole_number<uint64_t>(*value) : std::nullopt;
}

}  // namespace ecifs::sys
