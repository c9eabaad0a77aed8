// PacketBuilder: writes DNS messages for tests (the parser's inputs and the
// fake server's answers). Names are written uncompressed unless a test asks
// for a pointer explicitly.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::dns::testing {

class PacketBuilder {
 public:
  // A response header: id, QR set, RD and RA set, `rcode`.
  PacketBuilder(uint16_t id, int rcode, uint16_t qdcount, uint16_t ancount, uint16_t nscount);

  // The header's flags field, for tests that need other bits (AD, TC).
  void SetFlagBits(uint16_t bits);

  PacketBuilder& Name(std::string_view dotted);
  // A compression pointer to `offset`.
  PacketBuilder& Pointer(uint16_t offset);
  PacketBuilder& U8(uint8_t v);
  PacketBuilder& U16(uint16_t v);
  PacketBuilder& U32(uint32_t v);
  PacketBuilder& Bytes(std::string_view bytes);

  PacketBuilder& Question(std::string_view name, uint16_t type);
  // An IN record header for `name` whose RDATA follows; returns where its
  // RDLENGTH is, for EndRecord().
  size_t BeginRecord(std::string_view name, uint16_t type, uint32_t ttl);
  void EndRecord(size_t rdlength_at);

  PacketBuilder& Mx(std::string_view owner, uint32_t ttl, uint16_t preference,
                    std::string_view exchange);
  PacketBuilder& A(std::string_view owner, uint32_t ttl, uint8_t a, uint8_t b, uint8_t c,
                   uint8_t d);
  PacketBuilder& Cname(std::string_view owner, uint32_t ttl, std::string_view target);
  PacketBuilder& Soa(std::string_view owner, uint32_t ttl, uint32_t minimum);

  size_t size() const { return bytes_.size(); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

}  // namespace sluice::dns::testing
