package dev.backup.jmh;

import dev.backup.storage.Sha256Stream;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Hashing a stream as it arrives (64 KiB socket buffers), off the event loop: 16 MiB a
 * run. {@code plain} is the ceiling (one thread, no hand-offs); {@code perBuffer} hands
 * each buffer to the hashing thread and back (as the stream did before it batched);
 * {@code stream} is {@link Sha256Stream}. Throughput in runs per second: × 16 for MiB/s.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class HashBench {
  static final int TOTAL = 16 << 20;

  @Param({"65536"})
  int chunk;

  private Vertx vertx;
  private Context context;
  private ExecutorService pool;
  private final List<Buffer> buffers = new ArrayList<>();

  @Setup(Level.Trial)
  public void setUp() {
    vertx = Vertx.vertx();
    context = vertx.getOrCreateContext();
    pool = Executors.newFixedThreadPool(2);
    Random r = new Random(1);
    for (int off = 0; off < TOTAL; off += chunk) {
      byte[] b = new byte[chunk];
      r.nextBytes(b);
      buffers.add(Buffer.buffer(b));
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    pool.shutdownNow();
    vertx.close().await();
  }

  @Benchmark
  public String plain() throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    for (Buffer b : buffers) {
      md.update(((BufferInternal) b).getByteBuf().nioBuffer());
    }
    return HexFormat.of().formatHex(md.digest());
  }

  @Benchmark
  public String stream() {
    Promise<String> done = Promise.promise();
    context.runOnContext(x -> {
      Sha256Stream s = new Sha256Stream(context, pool);
      for (Buffer b : buffers) {
        s.write(b);
      }
      s.digest().onComplete(done);
    });
    return done.future().await();
  }

  @Benchmark
  public String perBuffer() {
    Promise<String> done = Promise.promise();
    context.runOnContext(x -> {
      MessageDigest md;
      try {
        md = MessageDigest.getInstance("SHA-256");
      } catch (Exception e) {
        done.fail(e);
        return;
      }
      CompletableFuture<Void> tail = CompletableFuture.completedFuture(null);
      List<Future<Void>> each = new ArrayList<>();
      for (Buffer b : buffers) {
        ByteBuffer nio = ((BufferInternal) b).getByteBuf().nioBuffer();
        Promise<Void> p = Promise.promise();
        each.add(p.future());
        tail = tail.thenRunAsync(() -> md.update(nio), pool);
        tail.whenComplete((v, err) -> context.runOnContext(y -> p.complete()));
      }
      CompletableFuture<Void> last = tail;
      Future.all(each).onComplete(all -> last.thenApplyAsync(v -> HexFormat.of().formatHex(md.digest()), pool)
          .whenComplete((hex, err) -> context.runOnContext(y -> done.complete(hex))));
    });
    return done.future().await();
  }
}
