/* The C++ wrapper's cost: start an empty coroutine and wait for it through
 * xa::spawn + task::wait against the raw C calls (xasync_spawn +
 * xasync_await), interleaved in the same run (the order rotating), from a
 * coroutine on a runtime with one worker: a lambda that may throw and a
 * noexcept one (both run inline: an exception would travel as the task's
 * failure, xasync_task_fail, and only a throw allocates). Prints
 * the medians of 51 samples, and the medians of the ratios of the
 * measurements of each sample (taken back to back, so that a load that
 * comes and goes on a shared machine mostly cancels out). Build with -O2 against the release library:
 *
 *   cargo build --release -p xasync-ffi
 *   c++ -std=c++17 -O2 -Iinclude capi/tests/cpp/bench_spawn_await.cpp \
 *     target/release/libxasync_ffi.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc */
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "xasync.hpp"

static constexpr int samples = 51;
static constexpr uint64_t iterations = 20000;

template <class T>
static void keep(T const &value) {
    asm volatile("" : : "g"(&value) : "memory");
}

static void *identity(void *arg) { return arg; }

static void raw(uint64_t n) {
    for (uint64_t i = 0; i < n; i++) {
        xasync_task task;
        void *out = nullptr;
        if (xasync_spawn(xasync_runtime{0}, identity, reinterpret_cast<void *>(i), &task) != XASYNC_OK ||
            xasync_await(task, &out) != XASYNC_OK)
            std::abort();
        keep(out);
    }
}

static void may_throw(uint64_t n) {
    for (uint64_t i = 0; i < n; i++) keep(xa::spawn([](uint64_t v) { return v; }, i).wait());
}

static void nothrow(uint64_t n) {
    for (uint64_t i = 0; i < n; i++)
        keep(xa::spawn([](uint64_t v) noexcept { return v; }, i).wait());
}

/* Nanoseconds per spawn + await of `n` operations of `body`. */
static double time_of(void (*body)(uint64_t), uint64_t n) {
    auto start = std::chrono::steady_clock::now();
    body(n);
    std::chrono::duration<double, std::nano> elapsed = std::chrono::steady_clock::now() - start;
    return elapsed.count() / double(n);
}

static double median(double *values) {
    std::sort(values, values + samples);
    return values[samples / 2];
}

int main() {
    xa::runtime rt({1, 0, nullptr});
    rt.spawn([] {
          void (*bodies[3])(uint64_t) = {raw, may_throw, nothrow};
          double ns[3][samples];
          for (auto body : bodies) body(iterations / 10); /* warm up: stacks, tables, caches */
          for (int s = 0; s < samples; s++)
              for (int k = 0; k < 3; k++) {
                  int b = (s + k) % 3;
                  ns[b][s] = time_of(bodies[b], iterations);
              }
          double throw_ratio[samples], nothrow_ratio[samples];
          for (int s = 0; s < samples; s++) {
              throw_ratio[s] = ns[1][s] / ns[0][s];
              nothrow_ratio[s] = ns[2][s] / ns[0][s];
          }
          std::printf("spawn + await of an empty coroutine, from a coroutine, 1 worker (median of %d x %llu)\n",
                      samples, static_cast<unsigned long long>(iterations));
          std::printf("  C ABI: xasync_spawn + xasync_await          %8.1f ns/op\n", median(ns[0]));
          std::printf("  C++: xa::spawn + wait, a lambda (may throw) %8.1f ns/op  C++ / C = %.3f\n",
                      median(ns[1]), median(throw_ratio));
          std::printf("  C++: xa::spawn + wait, a noexcept lambda    %8.1f ns/op  C++ / C = %.3f\n",
                      median(ns[2]), median(nothrow_ratio));
          std::printf("  (C++ / C: the median of the per-sample ratios)\n");
      }).wait();
}
