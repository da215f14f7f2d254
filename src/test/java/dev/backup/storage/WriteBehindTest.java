package dev.backup.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.file.AsyncFile;
import io.vertx.core.file.OpenOptions;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WriteBehindTest {
  private final Vertx vertx = Vertx.vertx();
  @TempDir
  Path dir;

  @AfterEach
  void close() {
    vertx.close().await();
  }

  /** A real file whose forces are counted (and the most ever running at once), and can be made to fail. */
  private final class Watched {
    final AtomicInteger forces = new AtomicInteger();
    final AtomicInteger running = new AtomicInteger();
    final AtomicInteger mostAtOnce = new AtomicInteger();
    /** What reached the file, in order: "written" as each write is done, "force" as each force starts. */
    final List<String> events = java.util.Collections.synchronizedList(new ArrayList<>());
    volatile boolean failForces;
    volatile long slowWrites;
    AsyncFile file;

    AsyncFile open(Path path) {
      AsyncFile real = vertx.fileSystem().open(path.toString(), new OpenOptions().setWrite(true).setCreateNew(true))
          .await();
      file = (AsyncFile) Proxy.newProxyInstance(AsyncFile.class.getClassLoader(), new Class<?>[] {AsyncFile.class},
          (proxy, method, args) -> {
            if (method.getName().equals("write") && method.getParameterCount() == 1 && slowWrites > 0) {
              // A write that the file takes its time to finish (a slow disk).
              return real.write((Buffer) args[0]).compose(v -> {
                Promise<Void> later = Promise.promise();
                vertx.setTimer(slowWrites, t -> {
                  events.add("written");
                  later.complete();
                });
                return later.future();
              });
            }
            if (method.getName().equals("flush") && method.getParameterCount() == 0) {
              events.add("force");
              forces.incrementAndGet();
              mostAtOnce.accumulateAndGet(running.incrementAndGet(), Math::max);
              Future<Void> f = failForces ? Future.failedFuture(new IOException("Input/output error"))
                  : real.flush();
              return f.andThen(x -> running.decrementAndGet());
            }
            try {
              return method.invoke(real, args);
            } catch (InvocationTargetException e) {
              throw e.getCause();
            }
          });
      return file;
    }
  }

  private <T> T on(Function<Context, Future<T>> body) {
    Context ctx = vertx.getOrCreateContext();
    Promise<T> result = Promise.promise();
    ctx.runOnContext(x -> body.apply(ctx).onComplete(result));
    return result.future().await();
  }

  @Test
  void forcesOneAtATimeOnTheWayAndTheWholeFileAtTheEnd() throws Exception {
    byte[] all = new byte[1024 * 1024 + 17];
    new Random(3).nextBytes(all);
    Path path = dir.resolve("f");
    Watched w = new Watched();
    AsyncFile file = w.open(path);
    int forcesBeforeEnd = on(ctx -> {
      WriteBehind out = new WriteBehind(file, 64 * 1024);
      List<Future<Void>> writes = new ArrayList<>();
      for (int off = 0; off < all.length; off += 16 * 1024) {
        writes.add(out.write(Buffer.buffer().appendBytes(all, off, Math.min(16 * 1024, all.length - off))));
      }
      return Future.all(writes).map(v -> w.forces.get())
          .compose(n -> out.flush().map(n))
          .compose(n -> out.settled().compose(x -> file.close()).map(n));
    });
    // Written fast, 1 MiB in 64 KiB steps: forces start on the way, never two at once.
    assertThat(forcesBeforeEnd).isBetween(1, 16);
    assertThat(w.mostAtOnce.get()).isEqualTo(1);
    assertThat(w.forces.get()).isEqualTo(forcesBeforeEnd + 1);
    assertThat(Files.readAllBytes(path)).isEqualTo(all);
  }

  @Test
  void theFinalForceWaitsForTheWritesStillUnderway() throws Exception {
    Path path = dir.resolve("slow");
    Watched w = new Watched();
    AsyncFile file = w.open(path);
    w.slowWrites = 100;
    on(ctx -> {
      WriteBehind out = new WriteBehind(file);
      for (int i = 0; i < 3; i++) {
        out.write(Buffer.buffer("part " + i + "\n"));
      }
      // Asked at once, while the three writes are not done yet.
      return out.flush().compose(v -> out.settled()).compose(v -> file.close());
    });
    assertThat(w.events).containsExactly("written", "written", "written", "force");
    assertThat(Files.readString(path)).isEqualTo("part 0\npart 1\npart 2\n");
  }

  @Test
  void aSmallFileIsForcedOnlyAtTheEnd() throws Exception {
    Path path = dir.resolve("small");
    Watched w = new Watched();
    AsyncFile file = w.open(path);
    on(ctx -> {
      WriteBehind out = new WriteBehind(file);
      return out.write(Buffer.buffer("hello")).compose(v -> out.flush()).compose(v -> file.close());
    });
    assertThat(w.forces.get()).isEqualTo(1);
    assertThat(Files.readString(path)).isEqualTo("hello");
  }

  @Test
  void aForceThatFailsOnTheWayFailsLaterWritesAndTheFinalFlush() throws Exception {
    Path path = dir.resolve("bad");
    Watched w = new Watched();
    AsyncFile file = w.open(path);
    w.failForces = true;
    WriteBehind out = new WriteBehind(file, 1024);
    on(ctx -> out.write(Buffer.buffer(new byte[2048])));
    // The force on the way has failed by the time it settles; what comes after fails too,
    // even once forces would succeed again (a failed fsync may have dropped the bytes).
    on(ctx -> out.settled());
    w.failForces = false;
    assertThat(out.failure()).hasMessageContaining("Input/output error");
    assertThatThrownBy(() -> on(ctx -> out.write(Buffer.buffer("more")))).hasMessageContaining("Input/output error");
    assertThatThrownBy(() -> on(ctx -> out.flush())).hasMessageContaining("Input/output error");
    on(ctx -> file.close());
  }
}
