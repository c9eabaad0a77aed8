// TcpConnection: one TCP socket driven by a shard's reactor.
//
// Receives with multishot recv into the reactor's provided buffers; sends
// one request at a time from a double buffer (bytes queued while a send is in
// flight go out with the next one), resubmitting the rest after a short
// write. Peer resets and broken pipes close the connection with an error
// status; they never signal or abort the process.
//
// Lifetime: a connection owns itself. It is created by a TcpListener or by
// Connect(), and destroys itself after Close() once the kernel has finished
// with every request that points into it; the handler's OnClosed() is the
// last call, and the pointer is invalid once it returns. Used only on its
// reactor's thread.
#pragma once

#include <linux/time_types.h>

#include <cstdint>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "reactor/completion.h"
#include "reactor/reactor.h"
#include "reactor/socket_address.h"

namespace sluice::reactor {

class TcpConnection {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    // Bytes received; the view is valid only during the call.
    virtual void OnData(TcpConnection& conn, absl::string_view data) = 0;
    // The peer has finished sending. By default: send what is queued, then
    // close.
    virtual void OnPeerClosed(TcpConnection& conn) { conn.CloseAfterFlush(); }
    // Everything queued with Send() has been written.
    virtual void OnSendDrained(TcpConnection& /*conn*/) {}
    // The socket is closed; `conn` is destroyed when this returns. `reason`
    // is OK for an orderly close.
    virtual void OnClosed(TcpConnection& conn, const absl::Status& reason) = 0;
  };

  using ConnectCallback = absl::AnyInvocable<void(absl::StatusOr<TcpConnection*>)>;

  // Takes ownership of a connected, non-blocking socket.
  static TcpConnection* Adopt(Reactor& reactor, int fd);

  // Connects to `remote`, from `source` if given (an egress IP; the port is
  // left to the kernel at connect time so many connections can share one
  // source address). `done` runs on this reactor with the open connection
  // (call Start() on it) or with the error; `timeout` of zero means none.
  static void Connect(Reactor& reactor, const SocketAddress& remote, const SocketAddress* source,
                      absl::Duration timeout, ConnectCallback done);

  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  // Starts delivering events to `handler`, which must outlive OnClosed().
  void Start(Handler* handler);

  void Send(absl::string_view bytes);
  void Send(std::string&& bytes);
  void Send(const char* bytes) { Send(absl::string_view(bytes)); }

  // Flow control: stop and restart receiving (for a peer that sends faster
  // than we can answer).
  void PauseReading();
  void ResumeReading();

  // Closes now; queued bytes are dropped. OnClosed() follows (if started).
  void Close(absl::Status reason = absl::OkStatus());
  // Stops reading, sends what is queued, then closes.
  void CloseAfterFlush();

  bool open() const { return state_ == State::kOpen; }
  size_t queued_send_bytes() const { return (sending_.size() - sent_) + pending_.size(); }
  const SocketAddress& peer() const { return peer_; }
  const SocketAddress& local() const { return local_; }
  int fd() const { return fd_; }
  Reactor& reactor() { return reactor_; }

 private:
  enum class State { kConnecting, kOpen, kClosing, kClosed };

  // Each request kind reports to its own completion object inside the
  // connection, so the connection can tell its requests apart.
  template <void (TcpConnection::*Method)(int32_t, uint32_t)>
  class Op final : public Completion {
   public:
    explicit Op(TcpConnection* conn) : conn_(conn) {}
    void OnComplete(int32_t res, uint32_t flags) override { (conn_->*Method)(res, flags); }

   private:
    TcpConnection* conn_;
  };

  TcpConnection(Reactor& reactor, int fd);
  ~TcpConnection() = default;

  void ArmRecv();
  void SubmitSend();
  void MaybeFinishClose();
  void OnRecv(int32_t res, uint32_t flags);
  void OnSend(int32_t res, uint32_t flags);
  void OnConnect(int32_t res, uint32_t flags);
  void OnCloseDone(int32_t res, uint32_t flags);

  Reactor& reactor_;
  const int fd_;
  State state_ = State::kOpen;
  Handler* handler_ = nullptr;
  SocketAddress peer_;
  SocketAddress local_;
  absl::Status close_reason_;

  Op<&TcpConnection::OnRecv> recv_op_{this};
  Op<&TcpConnection::OnSend> send_op_{this};
  Op<&TcpConnection::OnConnect> connect_op_{this};
  Op<&TcpConnection::OnCloseDone> close_op_{this};
  int ops_in_flight_ = 0;

  bool recv_armed_ = false;
  bool want_read_ = true;
  bool peer_closed_ = false;
  bool close_after_flush_ = false;

  // `sending_[sent_..]` is in flight; `pending_` collects what comes next.
  std::string sending_;
  size_t sent_ = 0;
  bool send_in_flight_ = false;
  std::string pending_;

  ConnectCallback connect_done_;
  __kernel_timespec connect_timeout_{};
};

}  // namespace sluice::reactor
