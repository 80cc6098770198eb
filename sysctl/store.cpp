// Per-container store of emulated sysctl values.
#include "sysctl/store.hpp"

#include <mutex>

namespace ecifs::sysctl {

std::optional<std::string> Store::get(const std::string& path) const {
    std::shared_lock lock(mutex_);
    const auto value = values_.find(path);
    if (value == values_.end()) return std::nullopt;
    return value->second;
}

std::string Store::get_or_insert(const std::string& path, const std::function<std::string()>& make) {
    std::unique_lock lock(mutex_);
    auto [it, inserted] = values_.try_emplace(path);
    if (inserted) {
        it->second = make();
        if (save_) save_(values_);
    }
    return it->second;
}

void Store::set(const std::string& path, std::string value) {
    std::unique_lock lock(mutex_);
    values_.insert_or_assign(path, std::move(value));
    if (save_) save_(values_);
}

void Store::persist_with(std::map<std::string, std::string> values, Saver save) {
    std::unique_lock lock(mutex_);
    values_ = std::move(values);
    save_ = std::move(save);
}

std::map<std::string, std::string> Store::snapshot() const {
    std::shared_lock lock(mutex_);
    return values_;
}

}  // namespace ecifs::sysctl
