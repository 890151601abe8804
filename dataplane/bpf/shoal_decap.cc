// shoal-decap: loads shoal's XDP decapsulator (shoal_decap.bpf.o: IPv4-in-IPv4, IPv6-in-IPv6,
// IPv4-in-IPv6) onto a real server's interface, removes it, and prints its counters. See
// DESIGN.md, "Forwarding modes: TUN".
//
//   shoal-decap attach IFACE [--mode native|skb] [--object PATH] [--force]
//   shoal-decap detach IFACE [--force]
//   shoal-decap stats IFACE [--json]
//
// Nothing is pinned: the attached program keeps its counters map alive, and `stats` finds the
// map through the program attached to the interface (works inside `ip netns exec` without a
// bpffs mount).
//
// Exit codes: 0 success; 1 failure (message on stderr); 2 usage error; 3 no shoal-decap
// program attached (stats; detach of an interface with no XDP program at all exits 0).

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#ifndef SHOAL_DECAP_INSTALLED_OBJ
#define SHOAL_DECAP_INSTALLED_OBJ "/usr/local/lib/shoal/shoal_decap.bpf.o"
#endif

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFail = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNotAttached = 3;

// Must match shoal_decap.bpf.c.
constexpr const char *kProgName = "shoal_decap";
constexpr const char *kMapName = "decap_counters";
// The counters map's slots, in its order.
constexpr std::array<const char *, 5> kSlotNames = {
    "decapsulated_4in4", "passed", "malformed", "decapsulated_6in6", "decapsulated_4in6"};
constexpr std::array<uint32_t, 3> kDecapsulatedSlots = {0, 3, 4};

bool g_verbose = false;

int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args) {
    if (level == LIBBPF_DEBUG && !g_verbose) return 0;
    if (level == LIBBPF_INFO && !g_verbose) return 0;
    return std::vfprintf(stderr, fmt, args);
}

std::string errstr(int err) { return std::strerror(err < 0 ? -err : err); }

class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd &) = delete;
    Fd &operator=(const Fd &) = delete;
    Fd(Fd &&o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    Fd &operator=(Fd &&o) noexcept {
        if (this != &o) {
            reset();
            fd_ = o.fd_;
            o.fd_ = -1;
        }
        return *this;
    }
    ~Fd() { reset(); }
    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

const char *mode_name(uint32_t xdp_flags_or_attach_mode, bool is_attach_mode) {
    if (is_attach_mode) {
        switch (xdp_flags_or_attach_mode) {
        case XDP_ATTACHED_DRV: return "native";
        case XDP_ATTACHED_SKB: return "skb";
        case XDP_ATTACHED_HW: return "hw";
        case XDP_ATTACHED_MULTI: return "multi";
        default: return "none";
        }
    }
    if (xdp_flags_or_attach_mode & XDP_FLAGS_DRV_MODE) return "native";
    if (xdp_flags_or_attach_mode & XDP_FLAGS_SKB_MODE) return "skb";
    if (xdp_flags_or_attach_mode & XDP_FLAGS_HW_MODE) return "hw";
    return "auto";
}

// What is attached to an interface now.
struct Attached {
    uint32_t prog_id = 0;
    uint8_t attach_mode = XDP_ATTACHED_NONE; // XDP_ATTACHED_*
    std::string name;                        // program name, as the kernel keeps it
    bool ours() const { return name == kProgName; }
    uint32_t mode_flag() const {
        switch (attach_mode) {
        case XDP_ATTACHED_DRV: return XDP_FLAGS_DRV_MODE;
        case XDP_ATTACHED_SKB: return XDP_FLAGS_SKB_MODE;
        case XDP_ATTACHED_HW: return XDP_FLAGS_HW_MODE;
        default: return 0;
        }
    }
};

// Returns 0 and fills *out (prog_id 0 when nothing is attached), or a negative errno.
int query_attached(int ifindex, Attached *out) {
    bpf_xdp_query_opts q{};
    q.sz = sizeof(q);
    int err = bpf_xdp_query(ifindex, 0, &q);
    if (err) return err;
    *out = Attached{};
    out->attach_mode = q.attach_mode;
    if (q.attach_mode == XDP_ATTACHED_MULTI) {
        // Several modes at once (not something we create); report the driver one first.
        out->prog_id = q.drv_prog_id ? q.drv_prog_id : (q.skb_prog_id ? q.skb_prog_id : q.hw_prog_id);
        out->attach_mode = q.drv_prog_id ? XDP_ATTACHED_DRV
                           : q.skb_prog_id ? XDP_ATTACHED_SKB
                                           : XDP_ATTACHED_HW;
    } else {
        out->prog_id = q.prog_id;
    }
    if (out->prog_id == 0) return 0;
    Fd fd(bpf_prog_get_fd_by_id(out->prog_id));
    if (!fd.valid()) return -errno;
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    err = bpf_obj_get_info_by_fd(fd.get(), &info, &len);
    if (err) return err;
    out->name = info.name;
    return 0;
}

struct Iface {
    std::string name;
    int ifindex = 0;
};

std::optional<Iface> resolve_iface(const std::string &name) {
    if (name.empty() || name.size() >= IF_NAMESIZE) {
        std::fprintf(stderr, "shoal-decap: invalid interface name '%s'\n", name.c_str());
        return std::nullopt;
    }
    unsigned idx = if_nametoindex(name.c_str());
    if (idx == 0) {
        std::fprintf(stderr, "shoal-decap: no such interface '%s' (%s)\n", name.c_str(),
                     errstr(errno).c_str());
        return std::nullopt;
    }
    return Iface{name, static_cast<int>(idx)};
}

bool file_readable(const std::string &path) { return ::access(path.c_str(), R_OK) == 0; }

// --object, else the one next to the binary (the build tree holds both in dataplane/bpf/),
// else the installed one. No path is baked in but root-owned install paths: a loader run as
// root must not load an object from a build directory that may be gone, or from the cwd.
std::optional<std::string> locate_object(const std::optional<std::string> &explicit_path) {
    if (explicit_path) {
        if (!file_readable(*explicit_path)) {
            std::fprintf(stderr, "shoal-decap: cannot read BPF object '%s': %s\n",
                         explicit_path->c_str(), errstr(errno).c_str());
            return std::nullopt;
        }
        return explicit_path;
    }
    std::vector<std::string> candidates;
    std::array<char, 4096> exe{};
    ssize_t n = ::readlink("/proc/self/exe", exe.data(), exe.size() - 1);
    if (n > 0) {
        std::string dir(exe.data(), static_cast<size_t>(n));
        auto slash = dir.rfind('/');
        if (slash != std::string::npos) candidates.push_back(dir.substr(0, slash) + "/shoal_decap.bpf.o");
    }
    candidates.push_back(SHOAL_DECAP_INSTALLED_OBJ);
    for (const auto &c : candidates)
        if (file_readable(c)) return c;
    std::fprintf(stderr, "shoal-decap: BPF object shoal_decap.bpf.o not found (looked in:");
    for (const auto &c : candidates) std::fprintf(stderr, " %s", c.c_str());
    std::fprintf(stderr, "); pass --object PATH\n");
    return std::nullopt;
}

int cmd_attach(const Iface &ifc, const std::string &mode, const std::optional<std::string> &object,
               bool force) {
    auto path = locate_object(object);
    if (!path) return kExitFail;

    Attached cur;
    int err = query_attached(ifc.ifindex, &cur);
    if (err) {
        std::fprintf(stderr, "shoal-decap: cannot query XDP on %s: %s\n", ifc.name.c_str(),
                     errstr(err).c_str());
        return kExitFail;
    }
    if (cur.prog_id && !cur.ours() && !force) {
        std::fprintf(stderr,
                     "shoal-decap: %s already has XDP program '%s' (id %u, %s mode); "
                     "use --force to replace it\n",
                     ifc.name.c_str(), cur.name.c_str(), cur.prog_id,
                     mode_name(cur.attach_mode, true));
        return kExitFail;
    }

    bpf_object *obj = bpf_object__open_file(path->c_str(), nullptr);
    if (!obj) {
        std::fprintf(stderr, "shoal-decap: cannot open BPF object '%s': %s\n", path->c_str(),
                     errstr(errno).c_str());
        return kExitFail;
    }
    struct ObjCloser {
        bpf_object *o;
        ~ObjCloser() { bpf_object__close(o); }
    } closer{obj};

    bpf_program *prog = bpf_object__find_program_by_name(obj, kProgName);
    if (!prog) {
        std::fprintf(stderr, "shoal-decap: program '%s' not found in '%s'\n", kProgName,
                     path->c_str());
        return kExitFail;
    }
    bpf_program__set_type(prog, BPF_PROG_TYPE_XDP);
    err = bpf_object__load(obj);
    if (err) {
        std::fprintf(stderr, "shoal-decap: loading '%s' into the kernel failed: %s%s\n",
                     path->c_str(), errstr(err).c_str(),
                     err == -EPERM ? " (needs root / CAP_BPF + CAP_NET_ADMIN)" : "");
        return kExitFail;
    }
    int prog_fd = bpf_program__fd(prog);

    // Modes to try, in order. Auto: native first (veth and most drivers have it), then
    // generic; the mode already in use first, so a reload replaces in place.
    std::vector<uint32_t> modes;
    if (mode == "native") {
        modes = {XDP_FLAGS_DRV_MODE};
    } else if (mode == "skb") {
        modes = {XDP_FLAGS_SKB_MODE};
    } else {
        modes = {XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE};
        if (cur.prog_id && cur.mode_flag() == XDP_FLAGS_SKB_MODE)
            modes = {XDP_FLAGS_SKB_MODE, XDP_FLAGS_DRV_MODE};
    }

    Fd cur_fd;
    if (cur.prog_id) cur_fd = Fd(bpf_prog_get_fd_by_id(cur.prog_id));

    int last_err = 0;
    for (size_t i = 0; i < modes.size(); ++i) {
        uint32_t m = modes[i];
        bpf_xdp_attach_opts opts{};
        opts.sz = sizeof(opts);
        uint32_t flags = m;
        if (cur.prog_id && cur.mode_flag() == m && cur_fd.valid()) {
            flags |= XDP_FLAGS_REPLACE;
            opts.old_prog_fd = cur_fd.get();
        } else {
            if (cur.prog_id) {
                // Native and generic XDP can't coexist: take the old one off first.
                int derr = bpf_xdp_detach(ifc.ifindex, cur.mode_flag(), nullptr);
                if (derr) {
                    std::fprintf(stderr, "shoal-decap: cannot remove XDP program id %u from %s: %s\n",
                                 cur.prog_id, ifc.name.c_str(), errstr(derr).c_str());
                    return kExitFail;
                }
                cur = Attached{};
                cur_fd.reset();
            }
            flags |= XDP_FLAGS_UPDATE_IF_NOEXIST;
        }
        err = bpf_xdp_attach(ifc.ifindex, prog_fd, flags, &opts);
        if (!err) {
            Attached now;
            uint32_t id = 0;
            if (query_attached(ifc.ifindex, &now) == 0) id = now.prog_id;
            std::printf("shoal-decap: attached to %s (ifindex %d) in %s mode, program id %u\n",
                        ifc.name.c_str(), ifc.ifindex, mode_name(m, false), id);
            return kExitOk;
        }
        last_err = err;
        if (i + 1 < modes.size())
            std::fprintf(stderr, "shoal-decap: %s mode attach on %s failed (%s); trying %s mode\n",
                         mode_name(m, false), ifc.name.c_str(), errstr(err).c_str(),
                         mode_name(modes[i + 1], false));
    }
    std::fprintf(stderr, "shoal-decap: cannot attach to %s in %s mode: %s\n", ifc.name.c_str(),
                 mode == "native" ? "native" : mode == "skb" ? "skb" : "any",
                 errstr(last_err).c_str());
    return kExitFail;
}

int cmd_detach(const Iface &ifc, bool force) {
    Attached cur;
    int err = query_attached(ifc.ifindex, &cur);
    if (err) {
        std::fprintf(stderr, "shoal-decap: cannot query XDP on %s: %s\n", ifc.name.c_str(),
                     errstr(err).c_str());
        return kExitFail;
    }
    if (!cur.prog_id) {
        std::printf("shoal-decap: no XDP program on %s; nothing to detach\n", ifc.name.c_str());
        return kExitOk;
    }
    if (!cur.ours() && !force) {
        std::fprintf(stderr,
                     "shoal-decap: XDP program on %s is '%s' (id %u), not shoal-decap; "
                     "use --force to remove it anyway\n",
                     ifc.name.c_str(), cur.name.c_str(), cur.prog_id);
        return kExitFail;
    }
    err = bpf_xdp_detach(ifc.ifindex, cur.mode_flag(), nullptr);
    if (err) {
        std::fprintf(stderr, "shoal-decap: cannot detach from %s: %s\n", ifc.name.c_str(),
                     errstr(err).c_str());
        return kExitFail;
    }
    std::printf("shoal-decap: detached program id %u from %s (%s mode)\n", cur.prog_id,
                ifc.name.c_str(), mode_name(cur.attach_mode, true));
    return kExitOk;
}

// Finds the counters map among the maps the program uses, and its number of slots (a
// program attached before an upgrade may have fewer than kSlotNames).
Fd find_counters_map(uint32_t prog_id, uint32_t *slots, std::string *why) {
    Fd pfd(bpf_prog_get_fd_by_id(prog_id));
    if (!pfd.valid()) {
        *why = "cannot open program id " + std::to_string(prog_id) + ": " + errstr(errno);
        return {};
    }
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (int err = bpf_obj_get_info_by_fd(pfd.get(), &info, &len)) {
        *why = "cannot get program info: " + errstr(err);
        return {};
    }
    std::vector<uint32_t> ids(info.nr_map_ids);
    if (!ids.empty()) {
        bpf_prog_info info2{};
        info2.nr_map_ids = static_cast<uint32_t>(ids.size());
        info2.map_ids = reinterpret_cast<uint64_t>(ids.data());
        len = sizeof(info2);
        if (int err = bpf_obj_get_info_by_fd(pfd.get(), &info2, &len)) {
            *why = "cannot get program map ids: " + errstr(err);
            return {};
        }
        ids.resize(std::min<size_t>(ids.size(), info2.nr_map_ids));
    }
    for (uint32_t id : ids) {
        Fd mfd(bpf_map_get_fd_by_id(id));
        if (!mfd.valid()) continue;
        bpf_map_info minfo{};
        uint32_t mlen = sizeof(minfo);
        if (bpf_obj_get_info_by_fd(mfd.get(), &minfo, &mlen)) continue;
        if (std::string_view(minfo.name) == kMapName) {
            *slots = minfo.max_entries;
            return mfd;
        }
    }
    *why = std::string("program has no '") + kMapName + "' map";
    return {};
}

int cmd_stats(const Iface &ifc, bool json) {
    Attached cur;
    int err = query_attached(ifc.ifindex, &cur);
    if (err) {
        std::fprintf(stderr, "shoal-decap: cannot query XDP on %s: %s\n", ifc.name.c_str(),
                     errstr(err).c_str());
        return kExitFail;
    }
    if (!cur.prog_id) {
        std::fprintf(stderr, "shoal-decap: no XDP program attached to %s\n", ifc.name.c_str());
        return kExitNotAttached;
    }
    if (!cur.ours()) {
        std::fprintf(stderr, "shoal-decap: XDP program on %s is '%s' (id %u), not shoal-decap\n",
                     ifc.name.c_str(), cur.name.c_str(), cur.prog_id);
        return kExitNotAttached;
    }
    std::string why;
    uint32_t slots = 0;
    Fd mfd = find_counters_map(cur.prog_id, &slots, &why);
    if (!mfd.valid()) {
        std::fprintf(stderr, "shoal-decap: %s\n", why.c_str());
        return kExitFail;
    }
    int ncpus = libbpf_num_possible_cpus();
    if (ncpus <= 0) {
        std::fprintf(stderr, "shoal-decap: cannot count possible CPUs: %s\n", errstr(ncpus).c_str());
        return kExitFail;
    }
    std::array<uint64_t, kSlotNames.size()> totals{}; // slots the map lacks stay 0
    std::vector<uint64_t> percpu(static_cast<size_t>(ncpus)); // u64 values: already 8-aligned
    for (uint32_t key = 0; key < std::min<size_t>(kSlotNames.size(), slots); ++key) {
        if (bpf_map_lookup_elem(mfd.get(), &key, percpu.data())) {
            std::fprintf(stderr, "shoal-decap: cannot read counter %u: %s\n", key,
                         errstr(errno).c_str());
            return kExitFail;
        }
        for (uint64_t v : percpu) totals[key] += v;
    }
    // Printed: every kind of decapsulation together, passed, malformed, then each kind.
    uint64_t decapsulated = 0;
    for (uint32_t slot : kDecapsulatedSlots) decapsulated += totals[slot];
    std::vector<std::pair<const char *, uint64_t>> shown = {
        {"decapsulated", decapsulated}, {kSlotNames[1], totals[1]}, {kSlotNames[2], totals[2]}};
    for (uint32_t slot : kDecapsulatedSlots) shown.emplace_back(kSlotNames[slot], totals[slot]);
    if (json) {
        std::printf("{\"interface\": \"%s\", \"ifindex\": %d, \"prog_id\": %u, \"mode\": \"%s\"",
                    ifc.name.c_str(), ifc.ifindex, cur.prog_id, mode_name(cur.attach_mode, true));
        for (const auto &[name, value] : shown)
            std::printf(", \"%s\": %llu", name, static_cast<unsigned long long>(value));
        std::printf("}\n");
    } else {
        std::printf("%-17s %s (ifindex %d)\n", "interface", ifc.name.c_str(), ifc.ifindex);
        std::printf("%-17s id %u, %s mode\n", "program", cur.prog_id,
                    mode_name(cur.attach_mode, true));
        for (const auto &[name, value] : shown)
            std::printf("%-17s %llu\n", name, static_cast<unsigned long long>(value));
    }
    return kExitOk;
}

void usage(FILE *f) {
    std::fprintf(f,
                 "usage: shoal-decap attach IFACE [--mode native|skb] [--object PATH] [--force]\n"
                 "       shoal-decap detach IFACE [--force]\n"
                 "       shoal-decap stats IFACE [--json]\n"
                 "options: -v/--verbose (libbpf and verifier logs), -h/--help\n"
                 "Decapsulates IPv4-in-IPv4, IPv6-in-IPv6 and IPv4-in-IPv6 with XDP on IFACE\n"
                 "(shoal TUN real servers).\n"
                 "attach: default mode tries native XDP, then generic (skb).\n"
                 "exit codes: 0 ok, 1 failure, 2 usage, 3 not attached (stats)\n");
}

} // namespace

int main(int argc, char **argv) {
    std::vector<std::string> pos;
    std::string mode = "auto";
    std::optional<std::string> object;
    bool force = false, json = false;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        auto value = [&](const char *opt) -> std::optional<std::string> {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "shoal-decap: %s needs a value\n", opt);
                return std::nullopt;
            }
            return std::string(argv[++i]);
        };
        if (a == "-h" || a == "--help") {
            usage(stdout);
            return kExitOk;
        } else if (a == "-v" || a == "--verbose") {
            g_verbose = true;
        } else if (a == "--force") {
            force = true;
        } else if (a == "--json") {
            json = true;
        } else if (a == "--mode" || a.starts_with("--mode=")) {
            std::optional<std::string> v =
                a == "--mode" ? value("--mode") : std::optional<std::string>(std::string(a.substr(7)));
            if (!v) return kExitUsage;
            if (*v == "generic") *v = "skb";
            if (*v == "drv" || *v == "driver") *v = "native";
            if (*v != "native" && *v != "skb" && *v != "auto") {
                std::fprintf(stderr, "shoal-decap: --mode must be native or skb, not '%s'\n", v->c_str());
                return kExitUsage;
            }
            mode = *v;
        } else if (a == "--object" || a.starts_with("--object=")) {
            object = a == "--object" ? value("--object")
                                     : std::optional<std::string>(std::string(a.substr(9)));
            if (!object) return kExitUsage;
        } else if (a.starts_with("-") && a.size() > 1) {
            std::fprintf(stderr, "shoal-decap: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return kExitUsage;
        } else {
            pos.emplace_back(a);
        }
    }
    if (pos.size() != 2) {
        usage(stderr);
        return kExitUsage;
    }
    const std::string &cmd = pos[0];
    if (cmd != "attach" && cmd != "detach" && cmd != "stats") {
        std::fprintf(stderr, "shoal-decap: unknown command '%s'\n", cmd.c_str());
        usage(stderr);
        return kExitUsage;
    }
    if (cmd != "attach" && (mode != "auto" || object)) {
        std::fprintf(stderr, "shoal-decap: --mode and --object apply to attach only\n");
        return kExitUsage;
    }
    if (cmd != "stats" && json) {
        std::fprintf(stderr, "shoal-decap: --json applies to stats only\n");
        return kExitUsage;
    }

    libbpf_set_print(libbpf_print);
    auto ifc = resolve_iface(pos[1]);
    if (!ifc) return kExitFail;

    if (cmd == "attach") return cmd_attach(*ifc, mode, object, force);
    if (cmd == "detach") return cmd_detach(*ifc, force);
    return cmd_stats(*ifc, json);
}
