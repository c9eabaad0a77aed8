#include "bench/epoll_echo_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>

#include "absl/strings/str_cat.h"

namespace sluice::bench {

absl::StatusOr<std::unique_ptr<EpollEchoServer>> EpollEchoServer::Start() {
  std::unique_ptr<EpollEchoServer> server(new EpollEchoServer());
  const reactor::SocketAddress any = *reactor::SocketAddress::Parse("127.0.0.1:0");
  server->listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (bind(server->listen_fd_, any.sockaddr_ptr(), any.length()) != 0 ||
      listen(server->listen_fd_, 4096) != 0) {
    return absl::UnavailableError(absl::StrCat("listen: ", strerror(errno)));
  }
  server->address_ = *reactor::SocketAddress::LocalOf(server->listen_fd_);
  server->epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  server->stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = server->listen_fd_;
  epoll_ctl(server->epoll_fd_, EPOLL_CTL_ADD, server->listen_fd_, &ev);
  ev.data.fd = server->stop_fd_;
  epoll_ctl(server->epoll_fd_, EPOLL_CTL_ADD, server->stop_fd_, &ev);
  server->thread_ = std::thread([s = server.get()] { s->Loop(); });
  return server;
}

EpollEchoServer::~EpollEchoServer() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(stop_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  close(listen_fd_);
  close(epoll_fd_);
  close(stop_fd_);
}

void EpollEchoServer::Loop() {
  std::unordered_map<int, std::string> unsent;  // fd -> bytes the socket refused
  epoll_event events[256];
  char buffer[16 * 1024];
  while (true) {
    const int n = epoll_wait(epoll_fd_, events, 256, -1);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == stop_fd_) {
        for (auto& [client, bytes] : unsent) close(client);
        return;
      }
      if (fd == listen_fd_) {
        int client;
        while ((client = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >=
               0) {
          int one = 1;
          setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.fd = client;
          epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, client, &ev);
          unsent[client];
        }
        continue;
      }
      std::string& pending = unsent[fd];
      const bool was_waiting_to_write = !pending.empty();
      bool closed = false;
      if (events[i].events & EPOLLOUT) {
        const ssize_t w = send(fd, pending.data(), pending.size(), MSG_NOSIGNAL);
        if (w > 0) pending.erase(0, static_cast<size_t>(w));
      }
      if (pending.empty() && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        const ssize_t r = recv(fd, buffer, sizeof(buffer), 0);
        if (r > 0) {
          const ssize_t w = send(fd, buffer, static_cast<size_t>(r), MSG_NOSIGNAL);
          const size_t written = w > 0 ? static_cast<size_t>(w) : 0;
          if (written < static_cast<size_t>(r)) pending.assign(buffer + written, r - written);
        } else if (r == 0 || errno != EAGAIN) {
          closed = true;
        }
      }
      if (closed) {
        epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
        close(fd);
        unsent.erase(fd);
        continue;
      }
      // Wait for writability only while something is queued, and touch the
      // interest set only when that changes.
      if (was_waiting_to_write != !pending.empty()) {
        epoll_event ev{};
        ev.events = pending.empty() ? EPOLLIN : EPOLLOUT;
        ev.data.fd = fd;
        epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
      }
    }
  }
}

}  // namespace sluice::bench
