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
    volatile long slowWritesMs;

    Watched(Path path) throws IOException {
      real = FileSink.of(FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE));
    }

    @Override
    public void write(ByteBuffer src) throws IOException {
      writes.incrementAndGet();
      if (failWrites) {
        throw new IOException("No space left on device");
      }
      if (slowWritesMs > 0) {
        try {
          Thread.sleep(slowWritesMs); // (a slow disk; this runs on a worker)
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      real.write(src);
      events.add("written");
    }

    @Override
    public void force() throws IOException {
      events.add("force");
      forces.incrementAndGet();
      mostAtOnce.accumulateAndGet(running.incrementAndGet(), Math::max);
      try {
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
      real.truncate();
    }

    @Override
    public void close() throws IOException {
      events.add("close");
      real.close();
    }
  }

  private <T> T on(Function<Context, Future<T>> body) {
    Promise<T> result = Promise.promise();
    ctx.runOnContext(x -> body.apply(ctx).onComplete(result));
    return result.future().await();
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
    int pieces = (all.length + 16 * 1024 - 1) / (16 * 1024);
    int forcesBeforeEnd = on(c -> {
      List<Future<Void>> writes = new ArrayList<>();
      for (int off = 0; off < all.length; off += 16 * 1024) {
        writes.add(out.write(Buffer.buffer().appendBytes(all, off, Math.min(16 * 1024, all.length - off))));
      }
      // Written in one turn: the first 256 KiB start a write, the rest are gathered meanwhile
      // and go in the next. (A flush asked now would let no force start on the way: forces
      // are one at a time, and the final one would be waiting.)
      return Future.all(writes).compose(v -> out.flush()).map(v -> w.forces.get() - 1)
          .compose(n -> out.close().map(n));
    });
    // 129 pieces of 16 KiB went to the file in a handful of writes.
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
}
