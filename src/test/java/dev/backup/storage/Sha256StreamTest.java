package dev.backup.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class Sha256StreamTest {
  private final Vertx vertx = Vertx.vertx();
  private final ExecutorService pool = Executors.newFixedThreadPool(2);

  @AfterEach
  void close() throws Exception {
    pool.shutdownNow();
    pool.awaitTermination(5, TimeUnit.SECONDS);
    vertx.close().await();
  }

  private static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }

  /** Runs on a context of its own, as the stream's users do, and waits for the result. */
  private <T> T on(Context ctx, java.util.function.Function<Sha256Stream, Future<T>> body) {
    Promise<T> result = Promise.promise();
    ctx.runOnContext(x -> body.apply(new Sha256Stream(ctx, pool)).onComplete(result));
    return result.future().await();
  }

  @Test
  void buffersWrittenFastAreHashedInOrderInFewTrips() throws Exception {
    Random r = new Random(7);
    byte[] all = new byte[3 * 1024 * 1024 + 123];
    r.nextBytes(all);
    Context ctx = vertx.getOrCreateContext();
    long[] trips = {0};
    int[] buffers = {0};
    String hex = on(ctx, s -> {
      List<Future<Void>> writes = new ArrayList<>();
      for (int off = 0; off < all.length; off += 65536) {
        writes.add(s.write(Buffer.buffer().appendBytes(all, off, Math.min(65536, all.length - off))));
        buffers[0]++;
      }
      return Future.all(writes).compose(v -> s.digest()).onSuccess(h -> {
        trips[0] = s.trips();
        assertThat(s.bytesWritten()).isEqualTo(all.length);
      });
    });
    assertThat(hex).isEqualTo(sha256(all));
    // Written in one go, they were hashed in a few batches (plus one trip for the digest).
    assertThat(trips[0]).isLessThan(buffers[0] / 4);
  }

  @Test
  void nothingWrittenIsTheHashOfNothing() throws Exception {
    assertThat(on(vertx.getOrCreateContext(), Sha256Stream::digest)).isEqualTo(sha256(new byte[0]));
  }

  /** Repeated: a write from the drain handler once started a second trip beside the running one. */
  @org.junit.jupiter.api.RepeatedTest(20)
  void aFullQueueDrainsAsTheHasherCatchesUp() throws Exception {
    Context ctx = vertx.getOrCreateContext();
    byte[] chunk = new byte[64 * 1024];
    new Random(3).nextBytes(chunk);
    byte[] all = new byte[chunk.length * 40];
    for (int i = 0; i < 40; i++) {
      System.arraycopy(chunk, 0, all, i * chunk.length, chunk.length);
    }
    String hex = on(ctx, s -> {
      s.setWriteQueueMaxSize(256 * 1024);
      Promise<String> done = Promise.promise();
      int[] n = {0};
      Runnable[] pump = new Runnable[1];
      pump[0] = () -> {
        while (n[0] < 40 && !s.writeQueueFull()) {
          s.write(Buffer.buffer(chunk));
          n[0]++;
        }
        if (n[0] < 40) {
          s.drainHandler(v -> pump[0].run());
        } else {
          s.digest().onComplete(done);
        }
      };
      pump[0].run();
      return done.future();
    });
    assertThat(hex).isEqualTo(sha256(all));
  }

  @Test
  void aHasherThatCannotRunFailsTheWritesAndTheDigest() {
    Context ctx = vertx.getOrCreateContext();
    java.util.concurrent.Executor refusing = task -> {
      throw new RejectedExecutionException("closed");
    };
    Promise<String> result = Promise.promise();
    Promise<Void> write = Promise.promise();
    ctx.runOnContext(x -> {
      Sha256Stream s = new Sha256Stream(ctx, refusing);
      s.write(Buffer.buffer("abc")).onComplete(write);
      s.digest().onComplete(result);
    });
    assertThatThrownBy(() -> write.future().await()).hasMessageContaining("closed");
    assertThatThrownBy(() -> result.future().await()).hasMessageContaining("closed");
  }
}
