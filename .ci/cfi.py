# gdb script for .ci/cfi.sh: single-steps every instruction of
# core/tests/switch_cfi.rs's `switches`, the context switches included, and
# at each one walks the stack with gdb's unwinder. In the switch code (the
# functions of xasync_core::arch, and the instructions they return or jump
# to) the walk must reach the frame that called `switches`, with the very
# program counter and stack pointer it had when `switches` began, or, inside
# a fiber, end cleanly at the fiber's trampoline (the bottom of its stack).
# A switch whose call frame information (CFI) misses a push, a pop or a
# stack switch sends the walk into garbage, or to a wrong stack pointer, or
# stops it with an error.
#
# Broken walks elsewhere (compiler-generated or C library code between the
# switches) are counted and reported, but only the switch code decides.
#
# Run by .ci/cfi.sh with the test binary loaded (and, for another CPU,
# attached to qemu-user's gdb stub). Prints its findings on lines starting
# with "cfi:" and quits with status 1 on any failure in the switch code.
import gdb

# With `debug = "line-tables-only"` (the release profile) gdb knows the
# functions by their bare names, without the module path.
STEPPED = ["switch_cfi::switches", "switches"]
SWITCH_CODE = "xasync_core::arch::"
MAX_STEPS = 200_000
MAX_FRAMES = 100
MAX_REPORTS = 5


def name(frame):
    return frame.name() or "??"


def position(frame):
    return frame.pc(), int(frame.read_register("sp"))


def walk():
    """The frames from the newest up, and why the walk stopped."""
    frames = []
    frame = gdb.newest_frame()
    while frame is not None and len(frames) < MAX_FRAMES:
        frames.append(frame)
        try:
            frame = frame.older()
        except gdb.error as error:
            return frames, str(error)
    return frames, gdb.frame_stop_reason_string(frames[-1].unwind_stop_reason())


def problem(frames, reason, anchor):
    """None if the walk is sound, else what is wrong with it."""
    if anchor in (position(f) for f in frames):
        return None
    last = frames[-1]
    fiber_root = "::trampoline" in name(last) and "coroutine" not in name(last)
    if fiber_root and last.unwind_stop_reason() == gdb.FRAME_UNWIND_OUTERMOST:
        return None
    return f"the walk missed the caller of `switches` and stopped: {reason}"


def describe(step, frames, what):
    """The report of a broken walk, as lines to print."""
    pc = gdb.newest_frame().pc()
    insn = gdb.execute(f"x/i {pc}", to_string=True).strip()
    lines = [f"cfi: FAIL at step {step}: {what}", f"cfi:   instruction {insn}"]
    for level, frame in enumerate(frames):
        pc, sp = position(frame)
        lines.append(f"cfi:   #{level} pc {pc:#x} sp {sp:#x} in {name(frame)}")
    return lines


class Tally:
    """Broken walks in and out of the switch code. A step counts as switch
    code when it runs in xasync_core::arch or has just left it: the
    instruction a switch returns or jumps to must find the registers and
    stack pointer its function's own CFI expects."""

    def __init__(self):
        self.switch = self.elsewhere = 0
        self.arch_before = False

    def step(self, in_arch, report):
        if report:
            if in_arch or self.arch_before:
                self.switch += 1
                if self.switch <= MAX_REPORTS:
                    print("\n".join(report))
            else:
                self.elsewhere += 1
        self.arch_before = in_arch


def main():
    gdb.execute("set pagination off")
    gdb.execute("set confirm off")
    gdb.execute("set breakpoint pending off")
    for stepped in STEPPED:
        try:
            gdb.execute(f"break {stepped}")
            break
        except gdb.error:
            continue
    else:
        raise gdb.GdbError("cfi: no function `switches` in the test binary")
    gdb.execute("continue" if gdb.selected_inferior().pid else "run")
    anchor = position(gdb.newest_frame().older())
    gdb.execute("delete")
    tally = Tally()
    steps = 0
    while True:
        frames, reason = walk()
        what = problem(frames, reason, anchor)
        tally.step(SWITCH_CODE in name(frames[0]), what and describe(steps, frames, what))
        if frames[0].pc() == anchor[0]:
            break
        if steps == MAX_STEPS:
            print(f"cfi: FAIL: still stepping after {MAX_STEPS} instructions")
            tally.switch += 1
            break
        gdb.execute("stepi", to_string=True)
        steps += 1
    print(
        f"cfi: {steps} instructions stepped; broken walks: {tally.switch} in "
        f"the switch code, {tally.elsewhere} elsewhere (not checked)"
    )
    gdb.execute("kill")
    gdb.execute(f"quit {1 if tally.switch else 0}")


main()
