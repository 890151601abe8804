#include "bgp/bird_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

namespace shoal::cp {
namespace {

bool is_code(std::string_view s) {
  if (s.size() < 4) return false;
  for (std::size_t i = 0; i < 4; ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return s.size() == 4 || s[4] == ' ' || s[4] == '-';
}

// True once `text` holds a complete reply: its last line has a code and no '-'.
bool complete(std::string_view text, bool skip_banner) {
  std::size_t start = 0, finals = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) return false;  // a line still arriving
    const std::string_view line = text.substr(start, end - start);
    if (is_code(line) && (line.size() == 4 || line[4] == ' ')) ++finals;
    start = end + 1;
  }
  return finals >= (skip_banner ? 2u : 1u);
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

std::string BirdReply::summary() const {
  if (!error.empty()) return error;
  if (lines.empty()) return "no reply";
  return lines.back().text;
}

std::vector<BirdLine> parse_bird_lines(std::string_view text) {
  std::vector<BirdLine> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (is_code(line)) {
      BirdLine l;
      l.code = std::stoi(std::string(line.substr(0, 4)));
      l.text = line.size() > 5 ? std::string(line.substr(5)) : std::string();
      out.push_back(std::move(l));
    } else if (!line.empty() && line.front() == ' ' && !out.empty()) {
      out.push_back({out.back().code, std::string(line.substr(1))});
    }
  }
  return out;
}

BirdReply bird_command(const std::string& socket, std::string_view command,
                       std::chrono::milliseconds timeout) {
  BirdReply reply;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    reply.error = std::string("socket: ") + std::strerror(errno);
    return reply;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket.size() >= sizeof addr.sun_path) {
    reply.error = "socket path too long: " + socket;
    return reply;
  }
  std::memcpy(addr.sun_path, socket.c_str(), socket.size() + 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    reply.error = "cannot reach bird at " + socket + ": " + std::strerror(errno);
    return reply;
  }
  std::string out(command);
  out += '\n';
  std::size_t sent = 0;
  while (sent < out.size()) {
    const ssize_t n = ::send(fd.get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      reply.error = std::string("send to bird: ") + std::strerror(errno);
      return reply;
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string in;
  char buf[4096];
  while (!complete(in, true)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      reply.error = "bird did not answer '" + std::string(command) + "' in time";
      return reply;
    }
    pollfd p{fd.get(), POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno != EINTR) {
      reply.error = std::string("poll: ") + std::strerror(errno);
      return reply;
    }
    if (r <= 0) continue;
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n == 0) {
      reply.error = "bird closed its control socket";
      return reply;
    }
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      reply.error = std::string("recv from bird: ") + std::strerror(errno);
      return reply;
    }
    in.append(buf, static_cast<std::size_t>(n));
  }
  reply.lines = parse_bird_lines(in);
  if (!reply.lines.empty()) reply.lines.erase(reply.lines.begin());  // the banner (0001)
  return reply;
}

std::vector<BirdProtocol> parse_bird_protocols(const std::vector<BirdLine>& lines) {
  std::vector<BirdProtocol> out;
  for (const BirdLine& l : lines) {
    if (l.code != 1002) continue;
    std::istringstream in(l.text);
    BirdProtocol p;
    if (!(in >> p.name >> p.proto >> p.table >> p.state)) continue;
    // "Since" is a time, or a date and a time; the rest of the line is the info.
    std::string rest;
    std::getline(in, rest);
    const auto first = rest.find_first_not_of(' ');
    rest = first == std::string::npos ? "" : rest.substr(first);
    const auto gap = rest.find("  ");
    p.since = rest.substr(0, gap);
    if (gap != std::string::npos) {
      const auto info = rest.find_first_not_of(' ', gap);
      if (info != std::string::npos) p.info = rest.substr(info);
    }
    while (!p.info.empty() && p.info.back() == ' ') p.info.pop_back();
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace shoal::cp
