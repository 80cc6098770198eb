#include "handlers/handler.hpp"

#include "handlers/view.hpp"

namespace ecifs::handlers {

NodeInfo NodeInfo::of_host_file(const struct stat& st) {
    NodeInfo info;
    info.is_dir = S_ISDIR(st.st_mode);
    info.is_symlink = S_ISLNK(st.st_mode);
    info.mode = st.st_mode & 07777;
    info.nlink = static_cast<uint32_t>(st.st_nlink);
    return info;
}

int FileEntry::read(const Context& ctx, std::string& out) const {
    if (!show) return generate(ctx, out);
    return with_view(ctx, path, [&](const ContainerView& view) { return show(view, out); });
}

}  // namespace ecifs::handlers
