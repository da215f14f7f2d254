package dev.backup.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class FrameDecoderTest {
  static final class Recorder implements FrameDecoder.Listener {
    final List<Frame> frames = new ArrayList<>();
    final Buffer data = Buffer.buffer();
    final List<BackupException> errors = new ArrayList<>();
    int dataEnds;
    FrameDecoder decoder;

    @Override
    public void onFrame(Frame frame) {
      frames.add(frame);
      if (frame.op() == Op.PUT) {
        decoder.expectRaw(frame.body().getLong("size"));
      }
    }

    @Override
    public void onData(Buffer d) {
      data.appendBuffer(d);
    }

    @Override
    public void onDataEnd() {
      dataEnds++;
    }

    @Override
    public void onError(BackupException error) {
      errors.add(error);
    }
  }

  private static Recorder recorder() {
    Recorder r = new Recorder();
    r.decoder = new FrameDecoder(r);
    return r;
  }

  @Test
  void roundTripKeepsOpRequestIdAndBody() {
    Frame f = new Frame(Op.REQUEST, 42L, new JsonObject().put("op", "list").put("x", "é"));
    Recorder r = recorder();
    r.decoder.feed(f.encode());
    assertThat(r.errors).isEmpty();
    assertThat(r.frames).hasSize(1);
    assertThat(r.frames.get(0).op()).isEqualTo(Op.REQUEST);
    assertThat(r.frames.get(0).requestId()).isEqualTo(42L);
    assertThat(r.frames.get(0).body().getString("x")).isEqualTo("é");
    assertThat(r.frames.get(0).body().getInteger("v")).isEqualTo(1);
  }

  @Test
  void framesSplitAnywhereAreReassembled() {
    Buffer all = Buffer.buffer();
    for (int i = 0; i < 5; i++) {
      all.appendBuffer(new Frame(Op.RESPONSE, i, new JsonObject().put("i", i)).encode());
    }
    Recorder r = recorder();
    for (int i = 0; i < all.length(); i++) {
      r.decoder.feed(all.getBuffer(i, i + 1));
    }
    assertThat(r.errors).isEmpty();
    assertThat(r.frames).extracting(Frame::requestId).containsExactly(0L, 1L, 2L, 3L, 4L);
  }

  @Test
  void rawBytesAfterPutThenCommitFrame() {
    byte[] payload = new byte[10_000];
    for (int i = 0; i < payload.length; i++) {
      payload[i] = (byte) (i * 31);
    }
    Buffer all = new Frame(Op.PUT, 7, new JsonObject().put("size", payload.length)).encode()
        .appendBytes(payload)
        .appendBuffer(new Frame(Op.COMMIT, 7, new JsonObject().put("sha256", "x")).encode());
    Recorder r = recorder();
    for (int i = 0; i < all.length(); i += 999) {
      r.decoder.feed(all.getBuffer(i, Math.min(all.length(), i + 999)));
    }
    assertThat(r.errors).isEmpty();
    assertThat(r.data.getBytes()).isEqualTo(payload);
    assertThat(r.dataEnds).isEqualTo(1);
    assertThat(r.frames).extracting(Frame::op).containsExactly(Op.PUT, Op.COMMIT);
  }

  @Test
  void emptyRawBodyEndsAtOnce() {
    Recorder r = recorder();
    r.decoder.feed(new Frame(Op.PUT, 1, new JsonObject().put("size", 0)).encode());
    assertThat(r.dataEnds).isEqualTo(1);
    assertThat(r.data.length()).isZero();
  }

  @Test
  void garbageIsRefusedAtOnceAndOnlyOnce() {
    Recorder r = recorder();
    r.decoder.feed(Buffer.buffer("GET / HTTP/1.1\r\n\r\n"));
    r.decoder.feed(Buffer.buffer("more garbage"));
    assertThat(r.frames).isEmpty();
    assertThat(r.errors).hasSize(1);
    assertThat(r.errors.get(0).code()).isEqualTo(ErrorCode.PROTOCOL);
  }

  @Test
  void aSingleWrongByteIsEnoughToRefuse() {
    Recorder r = recorder();
    r.decoder.feed(Buffer.buffer(new byte[] {0x42, 0x00}));
    assertThat(r.errors).hasSize(1);
  }

  @Test
  void hugeBodyLengthIsRefusedWithoutBuffering() {
    Buffer header = Buffer.buffer().appendInt(Frame.MAGIC).appendByte(Frame.VERSION)
        .appendByte((byte) Op.REQUEST.code()).appendShort((short) 0).appendLong(1).appendInt(Integer.MAX_VALUE);
    Recorder r = recorder();
    r.decoder.feed(header);
    assertThat(r.errors).singleElement().satisfies(e -> assertThat(e.getMessage()).contains("length"));
  }

  @Test
  void unknownOpAndVersionAndNonJsonBodiesAreRefused() {
    Buffer badOp = new Frame(Op.REQUEST, 1, new JsonObject()).encode();
    badOp.setByte(5, (byte) 99);
    Recorder r1 = recorder();
    r1.decoder.feed(badOp);
    assertThat(r1.errors).hasSize(1);

    Buffer badVersion = new Frame(Op.REQUEST, 1, new JsonObject()).encode();
    badVersion.setByte(4, (byte) 9);
    Recorder r2 = recorder();
    r2.decoder.feed(badVersion);
    assertThat(r2.errors).hasSize(1);

    Buffer notJson = Buffer.buffer().appendInt(Frame.MAGIC).appendByte(Frame.VERSION)
        .appendByte((byte) Op.REQUEST.code()).appendShort((short) 0).appendLong(1).appendInt(3).appendString("[1]");
    Recorder r3 = recorder();
    r3.decoder.feed(notJson);
    assertThat(r3.errors).hasSize(1);
  }

  @Test
  void truncatedFrameIsHeldNotDelivered() {
    Buffer f = new Frame(Op.REQUEST, 1, new JsonObject().put("op", "status")).encode();
    Recorder r = recorder();
    r.decoder.feed(f.getBuffer(0, f.length() - 3));
    assertThat(r.frames).isEmpty();
    assertThat(r.errors).isEmpty();
    assertThat(r.decoder.buffered()).isEqualTo(f.length() - 3);
  }

  static Buffer withBody(Buffer body) {
    return Buffer.buffer().appendInt(Frame.MAGIC).appendByte(Frame.VERSION).appendByte((byte) Op.REQUEST.code())
        .appendShort((short) 0).appendLong(1).appendInt(body.length()).appendBuffer(body);
  }

  @Test
  void everyBodyThatIsNotAJsonObjectIsOneProtocolErrorNeverAnException() {
    List<Buffer> bodies = new ArrayList<>(List.of(Buffer.buffer("null"), Buffer.buffer("1"), Buffer.buffer("\"x\""),
        Buffer.buffer("true"), Buffer.buffer("{"), Buffer.buffer("{\"a\":}"), Buffer.buffer(" "),
        Buffer.buffer(new byte[] {'{', '"', (byte) 0xff, (byte) 0xfe, '"', ':', '1', '}'}),
        Buffer.buffer("{\"a\":1}{\"b\":2}"), Buffer.buffer(new byte[] {0, 0, 0})));
    // Nesting far deeper than any parser's stack should take.
    bodies.add(Buffer.buffer("{\"a\":" + "[".repeat(200_000) + "]".repeat(200_000) + "}"));
    for (Buffer body : bodies) {
      Recorder r = recorder();
      r.decoder.feed(withBody(body));
      assertThat(r.frames).as("%s", body.length() > 40 ? body.getString(0, 40) : body).isEmpty();
      assertThat(r.errors).hasSize(1);
      assertThat(r.errors.get(0).code()).isEqualTo(ErrorCode.PROTOCOL);
    }
  }

  @Test
  void countsFramesAndTellsAPartialFrame() {
    Buffer f = new Frame(Op.REQUEST, 1, new JsonObject().put("op", "status")).encode();
    Recorder r = recorder();
    assertThat(r.decoder.partialFrame()).isFalse();
    r.decoder.feed(f.getBuffer(0, 1));
    assertThat(r.decoder.partialFrame()).isTrue();
    r.decoder.feed(f.getBuffer(1, f.length()).copy().appendBuffer(f.getBuffer(0, 5)));
    assertThat(r.decoder.frames()).isEqualTo(1);
    assertThat(r.decoder.partialFrame()).isTrue();
    r.decoder.feed(f.getBuffer(5, f.length()));
    assertThat(r.decoder.frames()).isEqualTo(2);
    assertThat(r.decoder.partialFrame()).isFalse();
    // Raw bytes after a PUT are not a frame under way.
    r.decoder.feed(new Frame(Op.PUT, 2, new JsonObject().put("size", 10)).encode().appendBytes(new byte[4]));
    assertThat(r.decoder.partialFrame()).isFalse();
    r.decoder.feed(Buffer.buffer(new byte[6]));
    r.decoder.feed(Buffer.buffer(new byte[] {0x42, 0x00}));
    assertThat(r.decoder.failed()).isTrue();
    assertThat(r.decoder.partialFrame()).isFalse();
  }
}
