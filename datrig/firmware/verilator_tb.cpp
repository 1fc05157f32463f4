// datrig's streaming testbench for a da4ml pipeline compiled by Verilator.
//
// One event enters model_inp every clock (II 1 by construction of the stimulus); the output
// port is read after every rising edge. The design's port layout comes from
// datrig_tb_design.h, written by datrig.firmware.verilator for each design.
//
// usage: Vtb INPUT.bin OUTPUT.bin N_EVENTS N_CYCLES
//   INPUT.bin   N_EVENTS x DATRIG_N_IN mantissas (datrig_in_t, native endianness) of the
//               network's input type, events in order
//   OUTPUT.bin  N_CYCLES x DATRIG_N_OUT int64 mantissas of the network's output type, one
//               row per rising edge; after N_EVENTS the input port holds zeros

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "Vdatrig_top.h"
#include "datrig_tb_design.h"
#include "verilated.h"

namespace {

constexpr std::size_t kChunk = 65536;  // events read (and rows written) per file access

template <std::size_t N>
void put_port(VlWide<N>& port, const uint32_t* words) {
    for (std::size_t i = 0; i < N; ++i) port.m_storage[i] = words[i];
}

template <typename T>
void put_port(T& port, const uint32_t* words) {
    port = static_cast<T>(static_cast<uint64_t>(words[0]) | (static_cast<uint64_t>(words[1]) << 32));
}

template <std::size_t N>
void get_port(const VlWide<N>& port, uint32_t* words) {
    for (std::size_t i = 0; i < N; ++i) words[i] = port.m_storage[i];
}

template <typename T>
void get_port(const T& port, uint32_t* words) {
    const uint64_t v = static_cast<uint64_t>(port);
    words[0] = static_cast<uint32_t>(v);
    words[1] = static_cast<uint32_t>(v >> 32);
}

// Write the low `width` bits of `value` at bit `offset` of the packed port (LSB first).
void insert_bits(uint32_t* words, int offset, int width, uint64_t value) {
    for (int done = 0; done < width;) {
        const int bit = offset + done;
        const int n = (32 - (bit & 31)) < (width - done) ? 32 - (bit & 31) : width - done;
        const uint64_t chunk = (value >> done) & ((1ULL << n) - 1);  // n <= 32
        words[bit >> 5] |= static_cast<uint32_t>(chunk << (bit & 31));
        done += n;
    }
}

uint64_t extract_bits(const uint32_t* words, int offset, int width) {
    uint64_t value = 0;
    for (int done = 0; done < width;) {
        const int bit = offset + done;
        const int n = (32 - (bit & 31)) < (width - done) ? 32 - (bit & 31) : width - done;
        const uint64_t chunk = (words[bit >> 5] >> (bit & 31)) & ((1ULL << n) - 1);
        value |= chunk << done;
        done += n;
    }
    return value;
}

int64_t output_mantissa(const uint32_t* words, int k) {
    const int width = DATRIG_OUT_WIDTH[k];
    if (width == 0) return 0;
    uint64_t raw = extract_bits(words, DATRIG_OUT_OFFSET[k], width);
    int64_t value = static_cast<int64_t>(raw);
    if (DATRIG_OUT_SIGNED[k] && width < 64 && ((raw >> (width - 1)) & 1ULL)) {
        value -= static_cast<int64_t>(1ULL << width);
    }
    const int shift = DATRIG_OUT_SHIFT[k];  // to the network output type's fractional bits
    return shift >= 0 ? value * (static_cast<int64_t>(1) << shift) : (value >> -shift);
}

[[noreturn]] void fail(const char* what, const char* path) {
    std::fprintf(stderr, "datrig testbench: %s %s\n", what, path);
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: %s INPUT.bin OUTPUT.bin N_EVENTS N_CYCLES\n", argv[0]);
        return 2;
    }
    const uint64_t n_events = std::strtoull(argv[3], nullptr, 10);
    const uint64_t n_cycles = std::strtoull(argv[4], nullptr, 10);
    std::FILE* in = std::fopen(argv[1], "rb");
    if (!in) fail("cannot open", argv[1]);
    std::FILE* out = std::fopen(argv[2], "wb");
    if (!out) fail("cannot create", argv[2]);

    auto context = std::make_unique<VerilatedContext>();
    context->commandArgs(1, argv);
    auto dut = std::make_unique<Vdatrig_top>(context.get());

    std::vector<datrig_in_t> events(kChunk * DATRIG_N_IN);
    std::vector<int64_t> rows(kChunk * DATRIG_N_OUT);
    uint32_t in_words[DATRIG_IN_WORDS];
    uint32_t out_words[DATRIG_OUT_WORDS];
    uint64_t loaded = 0;  // events read so far
    std::size_t in_chunk = 0, in_pos = 0, out_pos = 0;

    dut->clk = 0;
    dut->eval();
    for (uint64_t cycle = 0; cycle < n_cycles; ++cycle) {
        std::memset(in_words, 0, sizeof(in_words));
        if (cycle < n_events) {
            if (in_pos == in_chunk) {
                const uint64_t left = n_events - loaded;
                in_chunk = left < kChunk ? static_cast<std::size_t>(left) : kChunk;
                if (std::fread(events.data(), sizeof(datrig_in_t) * DATRIG_N_IN, in_chunk, in) !=
                    in_chunk)
                    fail("short read from", argv[1]);
                loaded += in_chunk;
                in_pos = 0;
            }
            const datrig_in_t* event = &events[in_pos * DATRIG_N_IN];
            for (int k = 0; k < DATRIG_N_IN; ++k) {
                if (DATRIG_IN_WIDTH[k]) {
                    insert_bits(in_words, DATRIG_IN_OFFSET[k], DATRIG_IN_WIDTH[k],
                                static_cast<uint64_t>(static_cast<int64_t>(event[k])));
                }
            }
            ++in_pos;
        }
        put_port(dut->model_inp, in_words);
        dut->clk = 1;
        dut->eval();
        std::memset(out_words, 0, sizeof(out_words));
        get_port(dut->model_out, out_words);
        for (int k = 0; k < DATRIG_N_OUT; ++k) {
            rows[out_pos * DATRIG_N_OUT + k] = output_mantissa(out_words, k);
        }
        if (++out_pos == kChunk) {
            if (std::fwrite(rows.data(), sizeof(int64_t) * DATRIG_N_OUT, out_pos, out) != out_pos)
                fail("short write to", argv[2]);
            out_pos = 0;
        }
        dut->clk = 0;
        dut->eval();
    }
    if (out_pos &&
        std::fwrite(rows.data(), sizeof(int64_t) * DATRIG_N_OUT, out_pos, out) != out_pos)
        fail("short write to", argv[2]);
    dut->final();
    std::fclose(in);
    if (std::fclose(out) != 0) fail("cannot close", argv[2]);
    return 0;
}
