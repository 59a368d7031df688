"""The five BGP messages as frozen, slotted, keyword-only dataclasses (RFC 4271 section 4).

Owns: `Open`, `Update`, `Notification`, `Keepalive`, `RouteRefresh`, the `Message` union, and the
top-level `decode_message(data, ctx)` / `encode_message(msg, ctx)` entry points, with the RFC 4271
section 6.1/6.2 header and OPEN checks. Never does: framing a byte stream (that is `framing.py`),
session decisions (hold time, BGP Identifier or peer AS acceptance belong to the FSM), or any I/O.

TYPE CONTRACT (fixed: FSM, RIB and daemon code against these fields and the two functions). Added for
byte-exact re-encoding, outside equality: `Open.param_layout`, `Open.extended_parameters`.

Message header (RFC 4271 section 4.1):

    +-----------------------------------------------+
    |              Marker (16 octets of 0xff)       |
    +-----------------------+-----------------------+
    |   Length (2 octets)   |   Type (1 octet)      |
    +-----------------------+-----------------------+

OPEN (section 4.2): Version (1), My AS (2), Hold Time (2), BGP Identifier (4), Opt Parm Len (1),
Optional Parameters; RFC 9072: Opt Parm Len 255 and a first parameter type 255 announce a 2-octet
extended length, and 2-octet parameter lengths.
UPDATE (section 4.3): Withdrawn Routes Length (2), Withdrawn Routes, Total Path Attribute Length (2),
Path Attributes, NLRI. NOTIFICATION (4.5): Error code (1), Error subcode (1), Data.
ROUTE-REFRESH (RFC 2918 section 3, RFC 7313 section 3.2): AFI (2), Subtype (1), SAFI (1).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, fields

from pybgp.wire.attributes import (
    EMPTY_ATTRIBUTES,
    MpReach,
    MpUnreach,
    PathAttributes,
    decode_path_attributes,
    encode_path_attributes,
)
from pybgp.wire.buffer import HEADER, OPEN_FIXED, ROUTE_REFRESH, U16
from pybgp.wire.capabilities import Capability, FourOctetAs, decode_capabilities, encode_capability
from pybgp.wire.constants import (
    HEADER_LEN,
    MARKER,
    MAX_EXTENDED_MESSAGE_LEN,
    MAX_MESSAGE_LEN,
    MIN_LENGTH,
    Afi,
    MessageHeaderSubcode,
    MessageType,
    NotificationCode,
    OpenSubcode,
    OptionalParameterType,
    RouteRefreshErrorSubcode,
    UpdateSubcode,
)
from pybgp.wire.context import WireContext
from pybgp.wire.errors import LocalUsageError, NotificationError, UpdateFault
from pybgp.wire.nlri import NlriImage, Prefix, decode_prefix_run, encode_nlri_field


@dataclass(frozen=True, slots=True, kw_only=True)
class Open:
    """OPEN (RFC 4271 4.2). `my_as` is the 2-octet field as sent (AS_TRANS 23456 for 4-octet ASNs);
    `asn` gives the real ASN using the 4-octet AS capability when present.

    `param_layout` records how the received optional parameters were grouped (n > 0: a Capabilities
    parameter holding the next n capabilities; -1: the next raw parameter) so a capture re-encodes
    exactly; empty means "all capabilities in one parameter, then the raw ones"."""

    version: int = 4
    my_as: int
    hold_time: int
    bgp_id: ipaddress.IPv4Address
    capabilities: tuple[Capability, ...] = ()
    raw_optional_parameters: tuple[tuple[int, bytes], ...] = ()  # non-capability params, kept opaque
    param_layout: tuple[int, ...] = field(default=(), compare=False, repr=False)
    extended_parameters: bool = field(default=False, compare=False, repr=False)

    @property
    def asn(self) -> int:
        """The sender's real ASN: the 4-octet AS capability's when present (RFC 6793 section 3)."""
        for cap in self.capabilities:
            if isinstance(cap, FourOctetAs):
                return cap.asn
        return self.my_as


@dataclass(frozen=True, slots=True, kw_only=True)
class Update:
    """UPDATE (RFC 4271 4.3). IPv4 unicast NLRI travel in `withdrawn`/`nlri`; other families in
    `mp_reach`/`mp_unreach`. `attributes` is None when the message carries no path attributes.
    `fault` is set when RFC 7606 chose attribute-discard or treat-as-withdraw: with treat-as-withdraw
    every prefix announced in this message must be handled as withdrawn."""

    withdrawn: tuple[Prefix, ...] = ()
    attributes: PathAttributes | None = None
    nlri: tuple[Prefix, ...] = ()
    mp_reach: MpReach | None = None
    mp_unreach: MpUnreach | None = None
    fault: UpdateFault | None = None
    withdrawn_image: NlriImage | None = field(default=None, compare=False, repr=False)
    nlri_image: NlriImage | None = field(default=None, compare=False, repr=False)


_UPDATE_SETTERS = tuple(vars(Update)[f.name].__set__ for f in fields(Update))
"""The slot setters of `Update`, in field order, for `_decode_update`."""
assert [f.name for f in fields(Update)] == [
    "withdrawn", "attributes", "nlri", "mp_reach", "mp_unreach", "fault", "withdrawn_image", "nlri_image",
]  # fmt: skip
_new_object = object.__new__


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """NOTIFICATION (RFC 4271 4.5). For Cease subcodes 2 and 4, `data` may hold an RFC 9003
    shutdown communication (length octet + UTF-8)."""

    code: int
    subcode: int
    data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class Keepalive:
    """KEEPALIVE (RFC 4271 4.4): the header alone."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteRefresh:
    """ROUTE-REFRESH (RFC 2918), with the RFC 7313 subtype in the former reserved octet.

    `orf` holds the RFC 5291 Outbound Route Filter entries that may follow a normal (subtype 0) request,
    kept opaque: pybgp does not advertise the ORF capability, but captures carry them."""

    afi: int
    safi: int
    subtype: int = 0
    orf: bytes = b""


Message = Open | Update | Notification | Keepalive | RouteRefresh

_V4_UNICAST = (1, 1)
_UPDATE = int(MessageType.UPDATE)
_UPDATE_MIN = MIN_LENGTH[MessageType.UPDATE]
_IPV4 = Afi.IPV4
_MAX_EXTENDED = MAX_EXTENDED_MESSAGE_LEN


def _header_error(subcode: int, data: bytes, reason: str) -> NotificationError:
    return NotificationError(NotificationCode.MESSAGE_HEADER_ERROR, subcode, data, reason)


def _open_error(subcode: int, reason: str, data: bytes = b"") -> NotificationError:
    return NotificationError(NotificationCode.OPEN_MESSAGE_ERROR, subcode, data, reason)


def check_header(data: bytes | memoryview, max_len: int) -> tuple[int, int]:
    """Validate a message header (RFC 4271 section 6.1) and return (length, type).

    Only the first 19 octets are read; the caller checks the rest is there.
    """
    if len(data) < HEADER_LEN:
        raise _header_error(MessageHeaderSubcode.BAD_MESSAGE_LENGTH, b"", "shorter than a BGP header")
    marker, length, mtype = HEADER.unpack_from(data)
    if marker != MARKER:
        raise _header_error(MessageHeaderSubcode.CONNECTION_NOT_SYNCHRONIZED, b"", "marker is not all ones")
    min_len = MIN_LENGTH.get(mtype)
    if min_len is None:
        raise _header_error(MessageHeaderSubcode.BAD_MESSAGE_TYPE, bytes((mtype,)), f"message type {mtype}")
    if mtype == MessageType.ROUTE_REFRESH:
        return length, mtype  # RFC 7313 section 5 reports its length errors itself
    if length < min_len or length > max_len or (mtype == MessageType.KEEPALIVE and length != HEADER_LEN):
        raise _header_error(MessageHeaderSubcode.BAD_MESSAGE_LENGTH, U16.pack(length), f"bad length {length}")
    return length, mtype


def decode_message(data: bytes | memoryview, ctx: WireContext) -> Message:
    """Decode one whole message (header included). Raises only `WireError` subclasses."""
    if (
        type(data) is bytes
        and _UPDATE_MIN <= len(data) <= (_MAX_EXTENDED if ctx.extended_message else MAX_MESSAGE_LEN)
        and data[18] == _UPDATE
        and (data[16] << 8) | data[17] == len(data)
        and data.startswith(MARKER)
    ):
        # The common case, a well-framed UPDATE: `check_header`'s section 6.1 checks, done inline.
        return _decode_update(data, ctx)
    length, mtype = check_header(data, ctx.max_message_len)
    if length != len(data):
        raise _header_error(
            MessageHeaderSubcode.BAD_MESSAGE_LENGTH, U16.pack(length), "length field disagrees with the data"
        )
    buf = bytes(data)
    if mtype == MessageType.UPDATE:
        return _decode_update(buf, ctx)
    if mtype == MessageType.KEEPALIVE:
        return Keepalive()
    if mtype == MessageType.OPEN:
        return _decode_open(buf)
    if mtype == MessageType.NOTIFICATION:
        return Notification(code=buf[19], subcode=buf[20], data=buf[21:])
    if length < 23 or (length != 23 and buf[HEADER_LEN + 2] in (1, 2)):
        # RFC 7313 section 5: a BoRR/EoRR (or any ROUTE-REFRESH too short to hold AFI/SAFI) of the
        # wrong length; the data is the whole message. A longer normal request carries ORF entries.
        raise NotificationError(
            NotificationCode.ROUTE_REFRESH_MESSAGE_ERROR,
            RouteRefreshErrorSubcode.INVALID_MESSAGE_LENGTH,
            buf[: min(len(buf), ctx.max_message_len)],
            "ROUTE-REFRESH length is not 23",
        )
    afi, subtype, safi = ROUTE_REFRESH.unpack_from(buf, HEADER_LEN)
    return RouteRefresh(afi=afi, safi=safi, subtype=subtype, orf=buf[23:])


def _decode_open(buf: bytes) -> Open:
    version, my_as, hold_time, bgp_id, opt_len = OPEN_FIXED.unpack_from(buf, HEADER_LEN)
    if version != 4:
        # RFC 4271 section 6.2: Data is the largest locally supported version.
        raise _open_error(OpenSubcode.UNSUPPORTED_VERSION_NUMBER, f"BGP version {version}", U16.pack(4))
    pos = HEADER_LEN + 10
    extended = opt_len == 255 and len(buf) > pos and buf[pos] == OptionalParameterType.EXTENDED_LENGTH
    if extended:
        # RFC 9072 section 2: Non-Ext OP Type 255, then a 2-octet Extended Opt. Parm. Length.
        if pos + 3 > len(buf):
            raise _open_error(0, "truncated extended optional parameters length")
        opt_len = U16.unpack_from(buf, pos + 1)[0]
        pos += 3
    if pos + opt_len != len(buf):
        raise _open_error(0, "optional parameters length disagrees with the message length")
    caps: list[Capability] = []
    raw: list[tuple[int, bytes]] = []
    layout: list[int] = []
    end = len(buf)
    hdr = 3 if extended else 2
    while pos < end:
        if pos + hdr > end:
            raise _open_error(0, "optional parameter header overruns the OPEN")
        ptype = buf[pos]
        plen = U16.unpack_from(buf, pos + 1)[0] if extended else buf[pos + 1]
        value = buf[pos + hdr : pos + hdr + plen]
        if pos + hdr + plen > end:
            raise _open_error(0, "optional parameter overruns the OPEN")
        if ptype == OptionalParameterType.CAPABILITIES:
            found = decode_capabilities(value)
            caps.extend(found)
            layout.append(len(found))
        else:
            raw.append((ptype, value))
            layout.append(-1)
        pos += hdr + plen
    return Open(
        version=version,
        my_as=my_as,
        hold_time=hold_time,
        bgp_id=ipaddress.IPv4Address(bgp_id),
        capabilities=tuple(caps),
        raw_optional_parameters=tuple(raw),
        param_layout=tuple(layout),
        extended_parameters=extended,
    )


def _decode_update(buf: bytes, ctx: WireContext) -> Update:
    end = len(buf)
    wlen = (buf[19] << 8) | buf[20]
    wstart = HEADER_LEN + 2
    astart = wstart + wlen + 2
    if astart > end:
        # RFC 4271 section 6.3: lengths that do not add up are a Malformed Attribute List (RFC 7606
        # section 5.3 keeps session reset: the NLRI cannot be located).
        raise NotificationError(3, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, reason="withdrawn routes overrun")
    alen = (buf[astart - 2] << 8) | buf[astart - 1]
    nstart = astart + alen
    if nstart > end:
        raise NotificationError(3, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, reason="path attributes overrun")
    addpath = bool(ctx.addpath_rx) and _V4_UNICAST in ctx.addpath_rx
    withdrawn: tuple[Prefix, ...] = ()
    w_image: NlriImage | None = None
    if wlen:  # most UPDATEs of a table load withdraw nothing: no call for an empty field
        withdrawn, w_image = decode_prefix_run(buf, wstart, astart - 2, _IPV4, addpath=addpath)
    nlri, n_image = decode_prefix_run(buf, nstart, end, _IPV4, addpath=addpath)
    if not alen and not nlri:
        return Update(withdrawn=withdrawn, withdrawn_image=w_image)
    attrs, mp_reach, mp_unreach, fault = decode_path_attributes(buf[astart:nstart], ctx, has_nlri=bool(nlri))
    # What `Update(...)` does, minus the frozen __init__'s keyword parsing and per-field
    # object.__setattr__ calls: one UPDATE object per message is a visible share of a table load.
    (
        set_withdrawn, set_attributes, set_nlri, set_mp_reach, set_mp_unreach, set_fault,
        set_withdrawn_image, set_nlri_image,
    ) = _UPDATE_SETTERS  # fmt: skip
    update = _new_object(Update)
    set_withdrawn(update, withdrawn)
    set_attributes(update, None if attrs is EMPTY_ATTRIBUTES else attrs)
    set_nlri(update, nlri)
    set_mp_reach(update, mp_reach)
    set_mp_unreach(update, mp_unreach)
    set_fault(update, fault)
    set_withdrawn_image(update, w_image)
    set_nlri_image(update, n_image)
    return update


def _frame(mtype: MessageType, body: bytes, ctx: WireContext) -> bytes:
    length = HEADER_LEN + len(body)
    limit = ctx.max_message_len if mtype not in (MessageType.OPEN, MessageType.KEEPALIVE) else 4096
    if length > limit:
        raise LocalUsageError(f"{mtype.name} of {length} octets exceeds the {limit}-octet limit")
    return HEADER.pack(MARKER, length, mtype) + body


def _encode_params(msg: Open) -> bytes:
    caps = [encode_capability(c) for c in msg.capabilities]
    layout = list(msg.param_layout)
    if sum(n for n in layout if n > 0) != len(caps) or layout.count(-1) != len(msg.raw_optional_parameters):
        layout = ([len(caps)] if caps else []) + [-1] * len(msg.raw_optional_parameters)
    params: list[tuple[int, bytes]] = []
    ci = ri = 0
    for n in layout:
        if n == -1:
            params.append(msg.raw_optional_parameters[ri])
            ri += 1
        else:
            params.append((OptionalParameterType.CAPABILITIES, b"".join(caps[ci : ci + n])))
            ci += n
    extended = msg.extended_parameters or any(len(v) > 255 for _, v in params)
    if extended:
        body = b"".join(bytes((t,)) + U16.pack(len(v)) + v for t, v in params)
        if len(body) > 0xFFFF:
            raise LocalUsageError("optional parameters exceed 65535 octets")
        return b"\xff\xff" + U16.pack(len(body)) + body
    body = b"".join(bytes((t, len(v))) + v for t, v in params)
    if len(body) > 255:
        body = b"".join(bytes((t,)) + U16.pack(len(v)) + v for t, v in params)
        return b"\xff\xff" + U16.pack(len(body)) + body
    return bytes((len(body),)) + body


def encode_message(msg: Message, ctx: WireContext) -> bytes:
    """Encode one message, header included. Never mutates `msg`; raises `LocalUsageError` for values
    that cannot be put on the wire (out of range, too long for the negotiated maximum).

    A decoded, unmodified UPDATE re-encodes byte for byte, received quirks included (flags, attribute
    order, discarded attributes). To send routes to another peer use `packing.encode_updates` (always
    canonical) or pass the attributes through `attributes.for_readvertisement` first."""
    match msg:
        case Update():
            addpath = _V4_UNICAST in ctx.addpath_tx
            withdrawn = encode_nlri_field(msg.withdrawn, msg.withdrawn_image, addpath=addpath)
            attrs = b""
            if msg.attributes is not None or msg.mp_reach is not None or msg.mp_unreach is not None:
                attrs = encode_path_attributes(msg.attributes, ctx, msg.mp_reach, msg.mp_unreach)
            if len(withdrawn) > 0xFFFF or len(attrs) > 0xFFFF:
                raise LocalUsageError("UPDATE field longer than 65535 octets")
            nlri = encode_nlri_field(msg.nlri, msg.nlri_image, addpath=addpath)
            body = U16.pack(len(withdrawn)) + withdrawn + U16.pack(len(attrs)) + attrs + nlri
            return _frame(MessageType.UPDATE, body, ctx)
        case Keepalive():
            return _frame(MessageType.KEEPALIVE, b"", ctx)
        case Open():
            if not (0 <= msg.my_as <= 0xFFFF and 0 <= msg.hold_time <= 0xFFFF and 0 <= msg.version <= 255):
                raise LocalUsageError(f"OPEN field out of range: {msg!r}")
            fixed = OPEN_FIXED.pack(msg.version, msg.my_as, msg.hold_time, msg.bgp_id.packed, 0)[:-1]
            return _frame(MessageType.OPEN, fixed + _encode_params(msg), ctx)
        case Notification():
            if not (0 <= msg.code <= 255 and 0 <= msg.subcode <= 255):
                raise LocalUsageError(f"NOTIFICATION code out of range: {msg!r}")
            return _frame(MessageType.NOTIFICATION, bytes((msg.code, msg.subcode)) + msg.data, ctx)
        case RouteRefresh():
            if not (0 <= msg.afi <= 0xFFFF and 0 <= msg.safi <= 255 and 0 <= msg.subtype <= 255):
                raise LocalUsageError(f"ROUTE-REFRESH field out of range: {msg!r}")
            body = ROUTE_REFRESH.pack(msg.afi, msg.subtype, msg.safi) + msg.orf
            return _frame(MessageType.ROUTE_REFRESH, body, ctx)
    raise LocalUsageError(f"not a BGP message: {msg!r}")


def end_of_rib_family(update: Update) -> tuple[int, int] | None:
    """The (AFI, SAFI) an End-of-RIB marker stands for, or None (RFC 4724 section 2).

    IPv4 unicast: an UPDATE with nothing in it. Other families: an UPDATE whose only attribute is an
    empty MP_UNREACH_NLRI.
    """
    if update.withdrawn or update.nlri or update.attributes is not None or update.mp_reach is not None:
        return None
    if update.mp_unreach is None:
        return _V4_UNICAST
    if update.mp_unreach.nlri or update.mp_unreach.raw_nlri:
        return None
    return (update.mp_unreach.afi, update.mp_unreach.safi)
