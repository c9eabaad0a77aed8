#include "tests/dns/nsd_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "tests/dns/packet_builder.h"

namespace sluice::dns::testing {
namespace {

constexpr const char* kDefaultNsd = "/usr/sbin/nsd";

std::string NsdBinary() {
  const char* env = getenv("SLUICE_NSD");
  return env != nullptr ? env : kDefaultNsd;
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

absl::StatusOr<uint16_t> FreeLoopbackPort() {
  for (int attempt = 0; attempt < 20; ++attempt) {
    const int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (bind(udp, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        getsockname(udp, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      close(udp);
      return absl::InternalError(absl::StrCat("bind: ", strerror(errno)));
    }
    const int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool tcp_ok = bind(tcp, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(tcp);
    close(udp);
    if (tcp_ok) return ntohs(addr.sin_port);
  }
  return absl::InternalError("no free loopback port for both UDP and TCP");
}

absl::StatusOr<uint16_t> ProbeFlags(uint16_t port, const std::string& name, uint16_t type,
                                    int timeout_ms) {
  PacketBuilder query(0x5151, 0, 1, 0, 0);
  query.Question(name, type);
  std::vector<uint8_t> bytes = query.bytes();
  bytes[2] = 0x01;  // a query: QR clear, RD set
  bytes[3] = 0x00;
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) <
      0) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("sendto: ", strerror(errno)));
  }
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) {
    close(fd);
    return absl::DeadlineExceededError("no answer");
  }
  uint8_t reply[4096];
  const ssize_t n = recv(fd, reply, sizeof(reply), 0);
  close(fd);
  if (n < 12) return absl::UnavailableError("short or failed reply");
  return static_cast<uint16_t>((reply[2] << 8) | reply[3]);
}

absl::StatusOr<std::unique_ptr<NsdServer>> NsdServer::Start(const std::vector<ZoneFile>& zones) {
  if (access(NsdBinary().c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(NsdBinary(),
                     " not found: install Debian's 'nsd' package (apt-get install nsd) to run "
                     "the DNS tests"));
  }
  absl::Status last;
  // A port found free can be taken before nsd binds it; try a few.
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::unique_ptr<NsdServer> server(new NsdServer());
    last = server->Launch(zones);
    if (last.ok()) return server;
  }
  return last;
}

absl::Status NsdServer::Launch(const std::vector<ZoneFile>& zones) {
  const char* tmp = getenv("TEST_TMPDIR");
  std::string templ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/nsd.XXXXXX");
  if (mkdtemp(templ.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp: ", strerror(errno)));
  }
  dir_ = templ;
  absl::StatusOr<uint16_t> port = FreeLoopbackPort();
  if (!port.ok()) return port.status();
  port_ = *port;

  std::string conf = absl::StrCat(
      "server:\n"
      "  ip-address: 127.0.0.1@",
      port_, "\n",
      "  do-ip6: no\n"
      "  username: \"\"\n"
      "  chroot: \"\"\n"
      "  zonesdir: \"",
      dir_, "\"\n",
      "  database: \"\"\n"
      "  zonelistfile: \"",
      dir_, "/zone.list\"\n", "  xfrdfile: \"", dir_, "/xfrd.state\"\n", "  xfrdir: \"", dir_,
      "\"\n", "  pidfile: \"", dir_, "/nsd.pid\"\n", "  logfile: \"", dir_, "/nsd.log\"\n",
      "  server-count: 1\n"
      "  tcp-count: 64\n"
      "  hide-version: yes\n"
      "  verbosity: 1\n"
      "remote-control:\n"
      "  control-enable: no\n");
  for (size_t i = 0; i < zones.size(); ++i) {
    const std::string file = absl::StrCat("zone", i, ".zone");
    if (absl::Status s = WriteFile(absl::StrCat(dir_, "/", file), zones[i].text); !s.ok()) return s;
    absl::StrAppend(&conf, "zone:\n  name: ", zones[i].origin, "\n  zonefile: ", file, "\n");
  }
  const std::string conf_path = absl::StrCat(dir_, "/nsd.conf");
  if (absl::Status s = WriteFile(conf_path, conf); !s.ok()) return s;

  const std::string binary = NsdBinary();
  pid_ = fork();
  if (pid_ < 0) return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  if (pid_ == 0) {
    // Never outlive the test, even if it crashes; and keep nsd off the
    // test's stdout/stderr pipes, which a reader waits on for EOF.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    const int out = open(absl::StrCat(dir_, "/nsd.out").c_str(),
                         O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out >= 0) {
      dup2(out, STDOUT_FILENO);
      dup2(out, STDERR_FILENO);
    }
    execl(binary.c_str(), binary.c_str(), "-d", "-c", conf_path.c_str(), nullptr);
    _exit(127);
  }
  // Ready when every zone that should load answers its SOA. Each probe
  // waits for an answer (bounded), not for time to pass.
  for (int attempt = 0; attempt < 100; ++attempt) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::UnavailableError(absl::StrCat("nsd exited during startup (status ", status,
                                                 "); log:\n", ReadFile(dir_ + "/nsd.log")));
    }
    bool ready = true;
    for (const ZoneFile& zone : zones) {
      if (!zone.must_load) continue;
      absl::StatusOr<uint16_t> flags = ProbeFlags(port_, zone.origin, 6, 100);
      if (!flags.ok() || (*flags & 0x0F) != 0) {
        ready = false;
        break;
      }
    }
    if (ready) return absl::OkStatus();
  }
  return absl::DeadlineExceededError(
      absl::StrCat("nsd did not answer on port ", port_, "; log:\n", ReadFile(dir_ + "/nsd.log")));
}

NsdServer::~NsdServer() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string NsdServer::address() const { return absl::StrCat("127.0.0.1:", port_); }

}  // namespace sluice::dns::testing
