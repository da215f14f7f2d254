package dev.backup.jmh;

import dev.backup.protocol.BackupException;
import dev.backup.protocol.Frame;
import dev.backup.protocol.FrameDecoder;
import dev.backup.protocol.Op;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The framing of every request: a PUT frame with a ticket like a backup's, encoded, and
 * decoded from the bytes as they come off a socket (whole, and cut in 1 KiB pieces).
 * Microseconds a frame.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class FrameBench {
  private Frame put;
  private Buffer bytes;

  @Setup
  public void setUp() {
    JsonObject ticket = new JsonObject().put("transferId", "b3f1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d")
        .put("name", "alice/photos/2026/holiday/IMG_20260812_101112.jpg").put("version", 3).put("size", 4096)
        .put("sha256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
        .put("chain", new JsonArray().add(new JsonObject().put("id", 1).put("host", "10.0.0.11").put("port", 7001))
            .add(new JsonObject().put("id", 3).put("host", "10.0.0.13").put("port", 7003)))
        .put("expires", 1_790_000_000_000L).put("mac", "q2Ct0Z1a0m1YbV0yR2c3lH1uY2V0Zm9yYmVuY2htYXJrcw");
    put = new Frame(Op.PUT, 42, new JsonObject().put("ticket", ticket).put("hop", 0).put("replicas", 2));
    bytes = put.encode();
  }

  @Benchmark
  public Buffer encode() {
    return put.encode();
  }

  @Benchmark
  public void decodeWhole(Blackhole bh) {
    decoder(bh).feed(bytes);
  }

  @Benchmark
  public void decodeInPieces(Blackhole bh) {
    FrameDecoder d = decoder(bh);
    for (int off = 0; off < bytes.length(); off += 1024) {
      d.feed(bytes.slice(off, Math.min(bytes.length(), off + 1024)));
    }
  }

  private static FrameDecoder decoder(Blackhole bh) {
    return new FrameDecoder(new FrameDecoder.Listener() {
      @Override
      public void onFrame(Frame frame) {
        bh.consume(frame);
      }

      @Override
      public void onError(BackupException error) {
        throw error;
      }
    });
  }
}
