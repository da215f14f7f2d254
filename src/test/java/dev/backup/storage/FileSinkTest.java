package dev.backup.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileSinkTest {
  private final Vertx vertx = Vertx.vertx();
  private final Context ctx = vertx.getOrCreateContext();
  @TempDir
  Path dir;

  @AfterEach
  void close() {
    vertx.close().await();
  }

  /** A real file whose writes and forces are counted (and the most forces ever running at once), and can be made to fail or slow. */
  private static final class Watched implements FileSink.Channel {
    final FileSink.Channel real;
    final AtomicInteger writes = new AtomicInteger();
    final AtomicInteger forces = new AtomicInteger();
    final AtomicInteger running = new AtomicInteger();
    final AtomicInteger mostAtOnce = new AtomicInteger();
    /** What reached the file, in order: "written" as each write ends, "force" as each force starts. */
    final List<String> events = Collections.synchronizedList(new ArrayList<>());
    volatile boolean failForces;
    volatile boolean failWrites;
    volatile boolean failTruncate;
    volatile long slowWritesMs;
    volatile long slowForcesMs;

    Watched(Path path) throws IOException {
      real = FileSink.of(FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE));
    }

    @Override
    public void write(ByteBuffer src) throws IOException {
      writes.incrementAndGet();
      if (failWrites) {
        throw new IOException("No space left on device");
      }
      pause(slowWritesMs);
      real.write(src);
      events.add("written");
    }

    @Override
    public void force() throws IOException {
      events.add("force");
      forces.incrementAndGet();
      mostAtOnce.accumulateAndGet(running.incrementAndGet(), Math::max);
      try {
        pause(slowForcesMs);
        if (failForces) {
          throw new IOException("Input/output error");
        }
        real.force();
      } finally {
        running.decrementAndGet();
      }
    }

    @Override
    public void truncate() throws IOException {
      events.add("truncate");
      if (failTruncate) {
        throw new IOException("Read-only file system");
      }
      real.truncate();
    }

    /** A slow disk (this runs on a worker). */
    private static void pause(long ms) {
      if (ms > 0) {
        try {
          Thread.sleep(ms);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }

    @Override
    public void close() throws IOException {
      events.add("close");
      real.close();
    }
  }

  /** Runs {@code body} on the sink's context and waits (at most 10 s: a hang fails the test) for its result. */
  private <T> T on(Function<Context, Future<T>> body) throws Exception {
    Promise<T> result = Promise.promise();
    ctx.runOnContext(x -> body.apply(ctx).onComplete(result));
    try {
      return result.future().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw new IllegalStateException(e.getCause().getMessage(), e.getCause());
    }
  }

  private FileSink sink(Watched w, long step, int maxQueue) {
    return new FileSink(ctx, w, step).setWriteQueueMaxSize(maxQueue);
  }

  private static byte[] random(int n) {
    byte[] all = new byte[n];
    new Random(n).nextBytes(all);
    return all;
  }

  @Test
  void gathersSmallBuffersIntoFewWritesAndForcesOneAtATimeOnTheWay() throws Exception {
    byte[] all = random(2 * 1024 * 1024 + 17);
    Path path = dir.resolve("f");
    Watched w = new Watched(path);
    FileSink out = sink(w, 64 * 1024, 1024 * 1024);
    int piece = 10_000; // (not a divisor of the 1 MiB copy buffer: buffers are split across it)
    int pieces = (all.length + piece - 1) / piece;
    int forcesBeforeEnd = on(c -> {
      List<Future<Void>> writes = new ArrayList<>();
      for (int off = 0; off < all.length; off += piece) {
        writes.add(out.write(Buffer.buffer().appendBytes(all, off, Math.min(piece, all.length - off))));
      }
      // Written in one turn: the first 256 KiB start a write, the rest are gathered meanwhile
      // and go in the next. (A flush asked now would let no force start on the way: forces
      // are one at a time, and the final one would be waiting.)
      return Future.all(writes).compose(v -> out.flush()).map(v -> w.forces.get() - 1)
          .compose(n -> out.close().map(n));
    });
    // 210 pieces of 10,000 bytes went to the file in a handful of writes.
    assertThat(w.writes.get()).isBetween(1, pieces / 8);
    // 2 MiB in 64 KiB steps: forces start on the way, never two at once, and one at the end.
    assertThat(forcesBeforeEnd).isBetween(1, w.writes.get());
    assertThat(w.mostAtOnce.get()).isEqualTo(1);
    assertThat(Files.readAllBytes(path)).isEqualTo(all);
    assertThat(w.events).last().isEqualTo("close");
  }

  @Test
  void theFinalForceWaitsForTheWriteUnderWayAndWhatIsGathered() throws Exception {
    Path path = dir.resolve("slow");
    Watched w = new Watched(path);
    w.slowWritesMs = 100;
    FileSink out = sink(w, FileSink.STEP, 16); // (a write starts from 4 bytes gathered)
    on(c -> {
      for (int i = 0; i < 3; i++) {
        out.write(Buffer.buffer("part " + i + "\n"));
      }
      // Asked at once, while the first write is under way and the others are gathered.
      return out.flush().compose(v -> out.close());
    });
    assertThat(w.events).containsExactly("written", "written", "force", "close");
    assertThat(Files.readString(path)).isEqualTo("part 0\npart 1\npart 2\n");
  }

  @Test
  void aSmallFileIsWrittenAndForcedOnceAtTheEnd() throws Exception {
    Path path = dir.resolve("small");
    Watched w = new Watched(path);
    FileSink out = sink(w, FileSink.STEP, 1024 * 1024);
    on(c -> {
      out.write(Buffer.buffer("hel"));
      out.write(Buffer.buffer("lo"));
      return out.flush().compose(v -> out.close());
    });
    assertThat(w.events).containsExactly("written", "force", "close");
    assertThat(Files.readString(path)).isEqualTo("hello");
  }

  @Test
  void theQueueFillsAndDrainsAsTheFileTakesTheBytes() throws Exception {
    Path path = dir.resolve("queue");
    Watched w = new Watched(path);
    w.slowWritesMs = 50;
    FileSink out = sink(w, FileSink.STEP, 64 * 1024);
    boolean[] fullAfter = new boolean[2];
    on(c -> {
      out.write(Buffer.buffer(new byte[32 * 1024])); // a write starts (16 KiB is a quarter)
      fullAfter[0] = out.writeQueueFull();
      out.write(Buffer.buffer(new byte[32 * 1024])); // gathered while the first is under way
      fullAfter[1] = out.writeQueueFull();
      Promise<Void> drained = Promise.promise();
      out.drainHandler(drained::complete);
      return drained.future().compose(v -> out.flush()).compose(v -> out.close());
    });
    assertThat(fullAfter).containsExactly(false, true);
    assertThat(Files.size(path)).isEqualTo(64 * 1024);
  }

  @Test
  void aForceThatFailsOnTheWayFailsLaterWritesAndTheFinalFlush() throws Exception {
    Path path = dir.resolve("bad");
    Watched w = new Watched(path);
    w.failForces = true;
    FileSink out = sink(w, 1024, 1024);
    on(c -> out.write(Buffer.buffer(new byte[2048])));
    // The force on the way fails; what comes after fails too, even once forces would
    // succeed again (a failed fsync may have dropped the bytes).
    org.awaitility.Awaitility.await().until(() -> on(c -> Future.succeededFuture(out.failure() != null)));
    w.failForces = false;
    assertThat(out.failure()).hasMessageContaining("Input/output error");
    assertThatThrownBy(() -> on(c -> out.write(Buffer.buffer("more")))).hasMessageContaining("Input/output error");
    assertThatThrownBy(() -> on(c -> out.flush())).hasMessageContaining("Input/output error");
    on(c -> out.close());
    assertThat(w.events).last().isEqualTo("close");
  }

  @Test
  void aWriteThatFailsIsReportedToItsWritersTheHandlerAndTheFlushAndTheFileStillCloses() throws Exception {
    Path path = dir.resolve("full");
    Watched w = new Watched(path);
    w.failWrites = true;
    FileSink out = sink(w, FileSink.STEP, 1024 * 1024);
    List<Throwable> reported = new ArrayList<>();
    out.exceptionHandler(reported::add);
    assertThatThrownBy(() -> on(c -> {
      Future<Void> first = out.write(Buffer.buffer("abc"));
      return out.flush().transform(x -> first);
    })).hasMessageContaining("No space left on device");
    assertThat(reported).singleElement().satisfies(t -> assertThat(t).hasMessageContaining("No space left"));
    assertThatThrownBy(() -> on(c -> out.flush())).hasMessageContaining("No space left on device");
    on(c -> out.close());
    assertThat(w.events).containsExactly("close");
  }

  @Test
  void truncateStartsTheFileAgainAndForgetsWhatWasGathered() throws Exception {
    Path path = dir.resolve("again");
    Watched w = new Watched(path);
    FileSink out = sink(w, FileSink.STEP, 16);
    on(c -> {
      out.write(Buffer.buffer("bad bytes"));      // a write starts
      out.write(Buffer.buffer("never written"));  // gathered, then forgotten
      return out.truncate()
          .compose(v -> {
            out.write(Buffer.buffer("good"));
            return out.flush();
          })
          .compose(v -> out.close());
    });
    assertThat(Files.readString(path)).isEqualTo("good");
    assertThat(w.events).containsSubsequence("written", "truncate", "written", "force", "close");
  }

  @Test
  void closeDropsWhatIsGatheredWaitsForTheWriteUnderWayAndRefusesMore() throws Exception {
    Path path = dir.resolve("closed");
    Watched w = new Watched(path);
    w.slowWritesMs = 100;
    FileSink out = sink(w, FileSink.STEP, 16);
    on(c -> {
      out.write(Buffer.buffer("first"));  // under way
      out.write(Buffer.buffer("second")); // gathered
      return out.close();
    });
    assertThat(w.events).containsExactly("written", "close");
    assertThat(Files.readString(path)).isEqualTo("first");
    assertThatThrownBy(() -> on(c -> out.write(Buffer.buffer("more")))).hasMessageContaining("closed");
    // Closed once: a later call gets the same answer, and the file is not closed again.
    String again = on(c -> out.close().map(v -> "closed"));
    assertThat(again).isEqualTo("closed");
    assertThat(w.events).containsOnlyOnce("close");
  }

  @Test
  void aForceOnTheWayThatFailsWhileAFlushWaitsFailsTheFlush() throws Exception {
    Path path = dir.resolve("force-fails");
    Watched w = new Watched(path);
    w.slowWritesMs = 300;
    w.slowForcesMs = 50;
    w.failForces = true;
    FileSink out = sink(w, 4, 16);
    assertThatThrownBy(() -> on(c -> out.write(Buffer.buffer("aaaa")).compose(v -> {
      // The first write ended and a force on the way started (it fails 50 ms later); a
      // second write is under way when it does, a third is gathered, a flush waits.
      out.write(Buffer.buffer("bbbb"));
      out.write(Buffer.buffer("cc"));
      return out.flush();
    }))).hasMessageContaining("Input/output error");
    on(c -> out.close());
    assertThat(new String(Files.readAllBytes(path), java.nio.charset.StandardCharsets.ISO_8859_1)).isEqualTo("aaaabbbb");
  }

  @Test
  void noForceStartsOnceTheFileIsClosing() throws Exception {
    Path path = dir.resolve("closing");
    Watched w = new Watched(path);
    w.slowWritesMs = 100;
    FileSink out = sink(w, 4, 16);
    on(c -> {
      out.write(Buffer.buffer("aaaa")); // under way: ending, it would start a force (step 4)
      return out.close();
    });
    assertThat(w.events).containsExactly("written", "close");
  }

  @Test
  void aFlushWhoseBytesACloseDroppedFails() throws Exception {
    Path path = dir.resolve("dropped");
    Watched w = new Watched(path);
    w.slowWritesMs = 100;
    FileSink out = sink(w, FileSink.STEP, 16);
    assertThatThrownBy(() -> on(c -> {
      out.write(Buffer.buffer("aaaa")); // under way
      out.write(Buffer.buffer("bb"));   // gathered
      Future<Void> flushed = out.flush();
      out.close();                      // (a failure elsewhere: the tail is dropped)
      return flushed;
    })).hasMessageContaining("closed or emptied");
    assertThat(w.events).doesNotContain("force");
  }

  @Test
  void aTruncateThatFailsFailsTheSink() throws Exception {
    Path path = dir.resolve("stuck");
    Watched w = new Watched(path);
    w.failTruncate = true;
    FileSink out = sink(w, FileSink.STEP, 16);
    assertThatThrownBy(() -> on(c -> out.write(Buffer.buffer("bad bytes")).compose(v -> out.truncate())))
        .hasMessageContaining("Read-only file system");
    // The file still holds the bad bytes: nothing may be added after them.
    assertThatThrownBy(() -> on(c -> out.write(Buffer.buffer("good")))).hasMessageContaining("Read-only");
    assertThatThrownBy(() -> on(c -> out.flush())).hasMessageContaining("Read-only");
    on(c -> out.close());
  }
}
