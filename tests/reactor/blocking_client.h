// Plain blocking-socket helpers for tests: the peer on the other side of the
// reactor, written with ordinary system calls so it shares no code with it.
// Every wait is bounded (poll with a timeout) so a broken reactor fails a
// test instead of hanging it.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "reactor/socket_address.h"

namespace sluice::reactor::testing {

// Connects (optionally from `source`) and returns the blocking socket.
absl::StatusOr<int> ConnectBlocking(const SocketAddress& to, const SocketAddress* source = nullptr);
absl::Status SendAll(int fd, absl::string_view bytes);
// Reads exactly `n` bytes, or fails after `timeout_ms` without progress.
absl::StatusOr<std::string> RecvExactly(int fd, size_t n, int timeout_ms = 10000);
// Waits for the peer to close: returns OK on EOF or reset, an error on data
// or timeout.
absl::Status WaitForClose(int fd, int timeout_ms = 10000);
// Closes with SO_LINGER 0, so the peer sees a reset.
void CloseWithReset(int fd);

}  // namespace sluice::reactor::testing
