#include "api/http_server.h"

#include <microhttpd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>

#include "config/config.h"

namespace shoal::cp {
namespace {

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw std::runtime_error("API on " + where + ": " + what);
}

sockaddr_un unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) fail(path, "path too long");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

// True if a server accepts connections on `path`.
bool answered(const sockaddr_un& addr) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool ok = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

int listen_unix(const std::string& path) {
  const sockaddr_un addr = unix_address(path);
  std::error_code ec;
  const auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty() && !std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec) fail(path, "cannot create " + dir.string() + ": " + ec.message());
    chmod(dir.c_str(), 0755);
  }
  if (std::filesystem::exists(path, ec)) {
    if (answered(addr)) fail(path, "another shoald is serving it");
    if (unlink(path.c_str()) != 0) fail(path, std::string("cannot remove stale socket: ") + std::strerror(errno));
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(path, std::strerror(errno));
  // Created 0600 from the start (umask), not chmod-ed after: no window in which others connect.
  const mode_t old = umask(0177);
  const int rc = bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int bind_errno = errno;
  umask(old);
  if (rc != 0 || listen(fd, 64) != 0) {
    close(fd);
    fail(path, std::strerror(rc != 0 ? bind_errno : errno));
  }
  return fd;
}

// One request's state across libmicrohttpd's calls: headers first, then the body in pieces.
struct Pending {
  HttpRequest request;
  bool too_large = false;
};

MHD_Result add_query(void* cls, MHD_ValueKind, const char* key, const char* value) {
  static_cast<HttpRequest*>(cls)->query[key] = value ? value : "";
  return MHD_YES;
}

MHD_Result add_header(void* cls, MHD_ValueKind, const char* key, const char* value) {
  std::string name = key;
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static_cast<HttpRequest*>(cls)->headers[name] = value ? value : "";
  return MHD_YES;
}

int listen_tcp(const std::string& address) {
  const auto endpoint = parse_ip_endpoint(address);
  if (!endpoint) fail(address, "expected address:port or [IPv6]:port");
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  if (endpoint->first.is_v4()) {
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = endpoint->first.v4();
    in->sin_port = htons(endpoint->second);
    addr_len = sizeof *in;
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
    in6->sin6_family = AF_INET6;
    std::memcpy(in6->sin6_addr.s6_addr, endpoint->first.v6().data(), 16);
    in6->sin6_port = htons(endpoint->second);
    addr_len = sizeof *in6;
  }
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(address, std::strerror(errno));
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), addr_len) != 0 || listen(fd, 64) != 0) {
    const int e = errno;
    close(fd);
    fail(address, std::strerror(e));
  }
  return fd;
}

MHD_Result reply(MHD_Connection* connection, const HttpResponse& r) {
  MHD_Response* response = MHD_create_response_from_buffer(
      r.body.size(), const_cast<char*>(r.body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, "Content-Type", r.content_type.c_str());
  MHD_add_response_header(response, "Cache-Control", "no-store");
  for (const auto& [name, value] : r.headers)
    MHD_add_response_header(response, name.c_str(), value.c_str());
  MHD_Result rc = MHD_queue_response(connection, static_cast<unsigned>(r.status), response);
  MHD_destroy_response(response);
  return rc;
}

}  // namespace

struct HttpServer::Context {
  HttpHandler handler;

  static MHD_Result access(void* cls, MHD_Connection* connection, const char* url,
                           const char* method, const char* /*version*/, const char* upload_data,
                           size_t* upload_data_size, void** con_cls) {
    auto* self = static_cast<Context*>(cls);
    auto* pending = static_cast<Pending*>(*con_cls);
    if (pending == nullptr) {  // headers only, so far
      pending = new Pending;
      pending->request.method = method;
      pending->request.path = url;
      MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, add_query, &pending->request);
      MHD_get_connection_values(connection, MHD_HEADER_KIND, add_header, &pending->request);
      *con_cls = pending;
      return MHD_YES;
    }
    if (*upload_data_size != 0) {
      if (pending->request.body.size() + *upload_data_size > kMaxBody)
        pending->too_large = true;
      else
        pending->request.body.append(upload_data, *upload_data_size);
      *upload_data_size = 0;
      return MHD_YES;
    }
    if (pending->too_large)
      return reply(connection, {413, R"({"error":"request body larger than 1 MiB"})"});
    return reply(connection, self->handler(pending->request));
  }

  static void completed(void*, MHD_Connection*, void** con_cls, MHD_RequestTerminationCode) {
    delete static_cast<Pending*>(*con_cls);
    *con_cls = nullptr;
  }
};

HttpServer::HttpServer(const std::string& path, HttpHandler handler)
    : HttpServer(listen_unix(path), path, std::move(handler)) {}

std::unique_ptr<HttpServer> HttpServer::tcp(const std::string& address, HttpHandler handler) {
  return std::unique_ptr<HttpServer>(new HttpServer(listen_tcp(address), "", std::move(handler)));
}

HttpServer::HttpServer(int fd, std::string unlink_path, HttpHandler handler)
    : path_(std::move(unlink_path)), context_(std::make_unique<Context>(Context{std::move(handler)})) {
  daemon_ = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, nullptr, nullptr, &Context::access,
      context_.get(), MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED,
      &Context::completed, nullptr, MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
  if (daemon_ == nullptr) {
    close(fd);
    if (!path_.empty()) unlink(path_.c_str());
    fail(path_, "libmicrohttpd could not start");
  }
}

HttpServer::~HttpServer() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);  // closes the listening socket
  if (!path_.empty()) unlink(path_.c_str());
}

}  // namespace shoal::cp
