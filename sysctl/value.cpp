// Kernel-exact parsing of sysctl writes. The rules, checked against a real kernel in a
// throwaway network namespace (see tests/unit/sysctl_value_test.cpp):
// - leading blanks are skipped: the kernel's isspace(), i.e. \t \n \v \f \r, space and 0xa0;
// - a number is an optional '-' and a C literal: 0x.. hex, 0.. octal, else decimal; '+'
//   is garbage; it must end the input or be followed by ' ', '\t' or '\n';
// - a number longer than 20 characters (sign and prefix included) is refused, as is
//   one that overflows 64 bits;
// - numeric files read at most 4095 bytes of a write; a write of only blanks is EINVAL,
//   an empty write changes nothing;
// - vectors take up to `count` values and ignore what follows;
// - strings keep the first line, cut at a NUL or '\n' and at max_length - 1 bytes.
#include "sysctl/value.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdint>
#include <vector>

namespace ecifs::sysctl {

namespace {

constexpr std::size_t numeric_write_limit = 4095;  // PAGE_SIZE - 1
constexpr std::size_t number_limit = 21;           // a number must be shorter than this

bool kernel_isspace(char c) {
    const auto u = static_cast<unsigned char>(c);
    return u == ' ' || (u >= '\t' && u <= '\r') || u == 0xa0;
}

bool separates(char c) { return c == ' ' || c == '\t' || c == '\n'; }

void skip_spaces(std::string_view& text) {
    while (!text.empty() && kernel_isspace(text.front())) text.remove_prefix(1);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

unsigned digit_value(char c) {
    if (is_digit(c)) return static_cast<unsigned>(c - '0');
    const char lower = static_cast<char>(c | 0x20);
    if (lower >= 'a' && lower <= 'f') return static_cast<unsigned>(lower - 'a' + 10);
    return 16;
}

struct Number {
    uint64_t magnitude = 0;
    bool negative = false;
};

// The base of the literal starting at text[at]; moves `at` past a "0x" prefix.
unsigned literal_base(std::string_view text, std::size_t& at) {
    const auto at_or_nul = [&](std::size_t i) { return i < text.size() ? text[i] : '\0'; };
    if (at_or_nul(at) != '0') return 10;
    if ((at_or_nul(at + 1) | 0x20) == 'x' && digit_value(at_or_nul(at + 2)) < 16) {
        at += 2;
        return 16;
    }
    return 8;
}

// Adds the digits of `base` from text[at] on to `magnitude`, moving `at` past them;
// whether the value overflowed 64 bits (the kernel's _parse_integer, KSTRTOX_OVERFLOW).
bool accumulate_digits(std::string_view text, std::size_t& at, unsigned base, uint64_t& magnitude) {
    bool overflow = false;
    for (; at < text.size() && digit_value(text[at]) < base; ++at) {
        const unsigned digit = digit_value(text[at]);
        if (magnitude > (UINT64_MAX - digit) / base) overflow = true;
        magnitude = magnitude * base + digit;
    }
    return overflow;
}

// One number at the front of `text` (no leading blanks); consumes it on success.
std::optional<Number> read_number(std::string_view& text) {
    const auto window = text.substr(0, number_limit);
    Number number;
    std::size_t at = 0;
    if (text.size() > 1 && text[0] == '-') {
        number.negative = true;
        at = 1;
    }
    if (at >= window.size() || !is_digit(window[at])) return std::nullopt;
    const unsigned base = literal_base(window, at);
    const bool overflow = accumulate_digits(window, at, base, number.magnitude);
    if (overflow || at == number_limit) return std::nullopt;
    if (at < text.size() && !separates(text[at])) return std::nullopt;
    text.remove_prefix(at);
    return number;
}

// The value a number stands for in a file of `kind`; nullopt where the kernel says EINVAL.
std::optional<int64_t> convert(Kind kind, Number number) {
    switch (kind) {
    case Kind::ints:
        if (number.negative)
            return number.magnitude <= uint64_t{1} << 31 ? std::optional(-static_cast<int64_t>(number.magnitude))
                                                          : std::nullopt;
        return number.magnitude <= INT32_MAX ? std::optional(static_cast<int64_t>(number.magnitude)) : std::nullopt;
    case Kind::uints:
        if (number.negative || number.magnitude > UINT32_MAX) return std::nullopt;
        return static_cast<int64_t>(number.magnitude);
    case Kind::ulongs:
        if (number.negative) return std::nullopt;
        return static_cast<int64_t>(number.magnitude);  // the 64-bit pattern
    case Kind::string:
        break;
    }
    return std::nullopt;
}

bool in_bounds(const Rule& rule, int64_t value) {
    if (rule.kind != Kind::ulongs) return value >= rule.min && value <= rule.max;
    const auto unsigned_value = static_cast<uint64_t>(value);
    const auto low = rule.min < 0 ? uint64_t{0} : static_cast<uint64_t>(rule.min);
    return unsigned_value >= low && unsigned_value <= static_cast<uint64_t>(rule.max);
}

std::string render(Kind kind, const std::vector<int64_t>& values) {
    std::string text;
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i > 0) text += '\t';
        text += kind == Kind::ulongs ? std::to_string(static_cast<uint64_t>(values[i])) : std::to_string(values[i]);
    }
    text += '\n';
    return text;
}

// A token of kernel-formatted text as a value (ulongs as their 64-bit pattern).
std::optional<int64_t> parse_token(std::string_view token) {
    const char* end = token.data() + token.size();
    if (token.starts_with('-')) {
        int64_t value = 0;
        const auto [at, ec] = std::from_chars(token.data(), end, value);
        return ec == std::errc{} && at == end ? std::optional(value) : std::nullopt;
    }
    uint64_t value = 0;
    const auto [at, ec] = std::from_chars(token.data(), end, value);
    return ec == std::errc{} && at == end ? std::optional(static_cast<int64_t>(value)) : std::nullopt;
}

// Every value of a file's current text, or nullopt if it is not a list of numbers.
std::optional<std::vector<int64_t>> values_of(std::string_view text) {
    std::vector<int64_t> values;
    for (skip_spaces(text); !text.empty(); skip_spaces(text)) {
        const auto length = static_cast<std::size_t>(std::find_if(text.begin(), text.end(), kernel_isspace) - text.begin());
        const auto value = parse_token(text.substr(0, length));
        if (!value) return std::nullopt;
        values.push_back(*value);
        text.remove_prefix(length);
    }
    return values;
}

// The values a write gives, in order, and the count write(2) reports; errno on failure.
int read_values(const Rule& rule, std::string_view input, std::vector<int64_t>& values, std::size_t& consumed) {
    auto rest = input.substr(0, numeric_write_limit);
    while (values.size() < static_cast<std::size_t>(rule.count)) {
        skip_spaces(rest);
        if (rest.empty()) break;
        const auto number = read_number(rest);
        if (!number) return EINVAL;
        const auto value = convert(rule.kind, *number);
        if (!value || !in_bounds(rule, *value)) return EINVAL;
        values.push_back(*value);
    }
    if (values.empty()) return EINVAL;
    skip_spaces(rest);
    // proc_douintvec reports the whole write; the vector handlers stop at what they read.
    consumed = rule.kind == Kind::uints ? input.size() : input.size() - rest.size();
    return 0;
}

int write_numbers(const Rule& rule, std::string_view input, std::string_view current, std::string& stored,
                  std::size_t& consumed) {
    std::vector<int64_t> values;
    if (const int error = read_values(rule, input, values, consumed)) return error;
    if (values.size() < static_cast<std::size_t>(rule.count)) {
        const auto now = values_of(current);
        if (!now || now->size() < static_cast<std::size_t>(rule.count)) return EIO;  // we cannot know the rest
        values.insert(values.end(), now->begin() + static_cast<std::ptrdiff_t>(values.size()),
                      now->begin() + rule.count);
    }
    if (rule.extra_check)
        if (const int error = rule.extra_check(current, values)) return error;
    if (rule.adjust) rule.adjust(values);
    stored = render(rule.kind, values);
    return 0;
}

int write_string(const Rule& rule, std::string_view input, std::string& stored, std::size_t& consumed) {
    const std::size_t limit = rule.max_length > 0 ? rule.max_length - 1 : 0;
    const auto line = input.substr(0, std::min(input.find_first_of(std::string_view("\0\n", 2)), limit));
    if (rule.string_check)
        if (const int error = rule.string_check(line)) return error;
    stored = std::string(line) + '\n';
    consumed = input.size();
    return 0;
}

}  // namespace

int validate_write(const Rule& rule, std::string_view input, std::string_view current, std::string& stored,
                   std::size_t* consumed) {
    if (rule.policy == Policy::read_only || rule.policy == Policy::synthesized || rule.policy == Policy::kernel_file)
        return EACCES;
    std::size_t count = 0;
    int error = 0;
    std::string result(current);
    if (!input.empty())
        error = rule.kind == Kind::string ? write_string(rule, input, result, count)
                                          : write_numbers(rule, input, current, result, count);
    if (error) return error;
    stored = std::move(result);
    if (consumed) *consumed = count;
    return 0;
}

std::optional<std::string_view> sibling_to_zero(const Rule& rule, std::string_view old_stored,
                                                std::string_view new_stored) {
    if (rule.zeroes.empty()) return std::nullopt;
    if (rule.zeroes_only_on_change && first_value(old_stored) == first_value(new_stored)) return std::nullopt;
    return rule.zeroes;
}

std::optional<int64_t> first_value(std::string_view text) {
    skip_spaces(text);
    const auto length = static_cast<std::size_t>(std::find_if(text.begin(), text.end(), kernel_isspace) - text.begin());
    return parse_token(text.substr(0, length));
}

int parse_kstrtouint(std::string_view text, unsigned& value) {
    if (text.starts_with('+')) text.remove_prefix(1);
    std::size_t at = 0;
    const unsigned base = literal_base(text, at);
    const std::size_t digits_start = at;
    uint64_t magnitude = 0;
    if (accumulate_digits(text, at, base, magnitude)) return ERANGE;  // before looking at what follows, as the kernel
    if (at == digits_start) return EINVAL;
    auto rest = text.substr(at);
    if (rest.starts_with('\n')) rest.remove_prefix(1);
    if (!rest.empty()) return EINVAL;
    if (magnitude > UINT_MAX) return ERANGE;
    value = static_cast<unsigned>(magnitude);
    return 0;
}

}  // namespace ecifs::sysctl
