// Languages of the UI. Vietnamese is the default: the exercises this is
// built for are Vietnamese, and a scenario may say otherwise (its locale,
// from /api/v1/scoring). A visitor's choice is remembered in localStorage.
// Static text carries data-i18n keys and is written in Vietnamese in the
// HTML, so a Vietnamese page never flickers; dynamic text asks t().

const STORE_KEY = 'cyrange.lang';
export const LANGS = ['vi', 'en'];
const INTL = { vi: 'vi-VN', en: 'en-GB' };

const dict = {
  vi: {
    'lang.switch': 'English',
    'lang.switch.label': 'Chuyển ngôn ngữ sang tiếng Anh',
    'skip': 'Bỏ qua, tới nội dung chính',
    'nav.label': 'Các trang',
    'nav.board': 'Bảng điểm',
    'nav.war': 'Phòng tác chiến',
    'nav.scoring': 'Cách tính điểm',
    'nav.team': 'Cổng đội',
    'nav.admin': 'Ban tổ chức',
    'brand': 'cyrange',

    'conn.connecting': 'Đang kết nối…',
    'conn.live': 'Trực tiếp',
    'conn.retrying': 'Mất kết nối, đang thử lại…',

    'clock.tick': 'Lượt',
    'clock.left': 'Còn lại',
    'clock.progress': 'Tiến độ lượt hiện tại',

    'phase.setup': 'Chuẩn bị',
    'phase.running': 'Đang diễn ra',
    'phase.paused': 'Tạm dừng',
    'phase.ended': 'Đã kết thúc',
    'banner.setup': 'Diễn tập chưa bắt đầu.',
    'banner.paused': 'Diễn tập đang tạm dừng.',
    'banner.ended': 'Diễn tập đã kết thúc: đây là kết quả cuối cùng.',
    'banner.frozen': 'Bảng điểm đã đóng băng: điểm số không còn cập nhật công khai cho tới khi kết thúc.',
    'banner.frozen.paused': 'Bảng điểm đã đóng băng và diễn tập đang tạm dừng.',

    'board.title': 'Bảng điểm trực tiếp',
    'board.standings': 'Bảng xếp hạng',
    'board.chart': 'Điểm theo thời gian',
    'board.matrix': 'Trạng thái dịch vụ',
    'board.ticker': 'Diễn biến',
    'board.loading': 'Đang tải…',
    'board.noTeams': 'Chưa có đội nào.',
    'board.noChecks': 'Chưa có kết quả kiểm tra.',
    'board.noEvents': 'Chưa có diễn biến.',
    'board.noHistory': 'Biểu đồ sẽ hiện khi các lượt bắt đầu.',
    'board.chartTop': 'Top {n} đội',
    'board.chartAxis': 'Lượt',
    'board.chartLabel': 'Tổng điểm của {n} đội theo từng lượt',
    'board.frozenNote': 'đóng băng',

    'role.both': 'Tấn công & phòng thủ',
    'role.attack': 'Đội tấn công',
    'role.defence': 'Đội phòng thủ',
    'role.organizer': 'Ban tổ chức',

    'col.rank': 'Hạng',
    'col.team': 'Đội',
    'col.total': 'Tổng',
    'col.attack': 'Tấn công',
    'col.captures': 'Cờ chiếm',
    'col.firstBloods': 'Máu đầu',
    'col.availability': 'Khả dụng',
    'col.lost': 'Cờ mất',
    'col.protected': 'Cờ giữ',
    'col.detection': 'Phát hiện',
    'col.service': 'Dịch vụ',
    'col.time': 'Thời gian',
    'col.target': 'Mục tiêu',
    'col.points': 'Điểm',
    'col.address': 'Địa chỉ',
    'col.status': 'Trạng thái',
    'col.history': 'Các lượt gần đây',
    'col.role': 'Vai trò',

    'rank.up': 'lên {n} hạng',
    'rank.down': 'xuống {n} hạng',
    'strip.label': 'Các lượt gần đây: {summary}',
    'strip.tick': 'Lượt {tick}: {status}',

    'status.OK': 'hoạt động bình thường',
    'status.RECOVERING': 'đang phục hồi',
    'status.MUMBLE': 'sai chức năng',
    'status.OFFLINE': 'không truy cập được',
    'status.INTERNAL_ERROR': 'lỗi bộ kiểm tra (đội không bị trừ)',
    'status.UNKNOWN': 'chưa kiểm tra',
    'status.unknownShort': 'CHƯA RÕ',

    'ticker.capture': '{team} chiếm cờ {service} của {target}',
    'ticker.first_blood': 'Giọt máu đầu tiên! {team} chiếm cờ {service}/{store} của {target}',
    'ticker.service_down': '{service} của {target} gặp sự cố ({status})',
    'ticker.service_up': '{service} của {target} hoạt động trở lại',
    'ticker.detection': '{team} phát hiện đúng một cuộc tấn công vào {service}',
    'ticker.verdict': 'Báo cáo phát hiện về {service}: {verdict}',
    'ticker.phase': 'Diễn tập: {action}',
    'ticker.skipped': '… và {n} diễn biến khác',
    'action.start': 'bắt đầu',
    'action.pause': 'tạm dừng',
    'action.resume': 'tiếp tục',
    'action.freeze': 'đóng băng bảng điểm',
    'action.end': 'kết thúc',
    'verdict.pending': 'đang chờ chấm',
    'verdict.true_positive': 'chính xác',
    'verdict.false_positive': 'sai (báo nhầm)',
    'verdict.duplicate': 'trùng sự cố đã ghi nhận',

    'war.title': 'Phòng tác chiến',
    'war.fullscreen': 'Toàn màn hình',
    'war.exit': 'Về bảng điểm',
    'war.firstBlood': 'GIỌT MÁU ĐẦU TIÊN',
    'war.defended': 'Hệ thống được bảo vệ',
    'war.label': 'Sơ đồ tấn công: các đội tấn công bao quanh hệ thống được bảo vệ; mỗi lần chiếm cờ là một đường cung.',

    'login.title': 'Đăng nhập',
    'login.intro': 'Nhập mã đội (token) do ban tổ chức cấp.',
    'login.token': 'Mã đội',
    'login.show': 'Hiện',
    'login.hide': 'Ẩn',
    'login.submit': 'Đăng nhập',
    'login.invalid': 'Mã đội không đúng. Hãy kiểm tra lại mã ban tổ chức đã cấp.',
    'login.failed': 'Không đăng nhập được',
    'login.as': 'Đăng nhập với tư cách',
    'logout': 'Đăng xuất',
    'login.organizerHere': 'Bạn đăng nhập bằng mã của ban tổ chức.',
    'login.openAdmin': 'Mở bảng điều khiển ban tổ chức',
    'login.teamOnAdmin': 'Bảng điều khiển này chỉ dành cho ban tổ chức. Bạn đang đăng nhập với đội {team}.',
    'login.openTeam': 'Về cổng đội',

    'team.title': 'Cổng đội',
    'team.rank': 'Hạng',
    'team.total': 'Tổng điểm',
    'team.rankOf': '{rank} / {n}',
    'team.attackPanel': 'Tấn công',
    'team.defencePanel': 'Phòng thủ',

    'flags.title': 'Nộp cờ',
    'flags.help': 'Dán các cờ, mỗi dòng một cờ (tối đa 1000).',
    'flags.label': 'Cờ',
    'flags.submit': 'Nộp',
    'flags.none': 'Không có cờ nào để nộp.',
    'flags.results': 'Kết quả',
    'flags.empty': 'Chưa nộp cờ nào.',
    'flags.summary': '{n} cờ: {parts}',
    'flags.error': 'Máy chủ từ chối ({status}): {error}',
    'flags.flag': 'Cờ',
    'flags.verdict': 'Kết quả',
    'flags.message': 'Chi tiết',
    'code.OK': 'được chấp nhận',
    'code.DUP': 'đã nộp trước đó',
    'code.OWN': 'cờ của chính đội',
    'code.OLD': 'đã hết hạn',
    'code.INV': 'không hợp lệ',
    'code.ERR': 'lỗi, thử lại sau',

    'captures.title': 'Cờ đã chiếm',
    'captures.empty': 'Đội chưa chiếm được cờ nào.',

    'targets.title': 'Mục tiêu và cách truy cập',
    'targets.refresh': 'Làm mới',
    'targets.gateway': 'Cổng vào (SOCKS5) của đội',
    'targets.gatewayAddr': 'Địa chỉ',
    'targets.user': 'Tên đăng nhập',
    'targets.password': 'Mật khẩu',
    'targets.passwordIs': 'mã đội của bạn',
    'targets.source': 'Dải địa chỉ nguồn',
    'targets.noGateway': 'Máy chủ chưa cung cấp cổng vào: truy cập mục tiêu trực tiếp từ mạng của đội.',
    'targets.examples': 'Ví dụ',
    'targets.none': 'Không có mục tiêu nào.',
    'targets.info': 'Gợi ý theo lượt (attackInfo)',
    'targets.noInfo': 'chưa có',
    'targets.ports': 'Cổng',

    'def.services': 'Dịch vụ của đội',
    'def.noServices': 'Đội không có dịch vụ nào để bảo vệ.',
    'def.console': 'Trang quản trị',
    'def.noConsole': 'chưa có địa chỉ',
    'def.recent': '{pct} trong {n} lượt gần đây',
    'def.flags': 'Cờ bị mất và cờ giữ được',
    'def.lost': 'Cờ bị mất',
    'def.protected': 'Cờ giữ được',
    'def.flagsLine': '{n} cờ · {pts} điểm',
    'def.detectionPts': 'Điểm phát hiện',
    'def.systems': 'Hệ thống của đội',
    'def.systemsIntro': 'Trang quản trị của từng máy chủ, mở qua cổng phòng thủ của đội. Trang mở ra là của máy chủ (kẻ tấn công có thể đã chiếm nó), không phải của cyrange: đừng nhập mã đội vào đó.',
    'def.open': 'Mở trang quản trị',
    'def.openLabel': 'Mở trang quản trị của {service} trong thẻ mới',
    'def.viaGateway': 'Địa chỉ qua cổng phòng thủ',
    'def.operator': 'Tài khoản vận hành',
    'def.noOperator': 'không có',
    'def.showLabel': 'Hiện mật khẩu vận hành của {service}',
    'def.hideLabel': 'Ẩn mật khẩu vận hành của {service}',
    'def.noProxy': 'Máy chủ cyrange này không mở trang quản trị trong trình duyệt: dùng công cụ của đội qua cổng phòng thủ (bên dưới).',
    'def.tools': 'Công cụ của đội',
    'def.gateway': 'Cổng phòng thủ (SOCKS5)',
    'def.noGateway': 'Máy chủ chưa cung cấp cổng phòng thủ cho đội.',
    'def.token': 'Thay $TOKEN bằng mã đội (ví dụ: export TOKEN=…); trang này không bao giờ hiện mã đội.',
    'def.exCurl': 'Trang quản trị, bằng curl:',
    'def.exProxychains': 'Mọi công cụ khác, qua proxychains:',
    'def.exBox': 'Máy phòng thủ (chỉ khi kịch bản có defence_box):',
    'def.box': 'Đăng nhập bằng tên viết tắt của đội, mật khẩu là mã đội. Nhật ký của từng máy chủ có ở đó, chỉ đọc: /var/log/replica/DỊCH_VỤ/DỊCH_VỤ.log.',

    'logs.title': 'Nhật ký của mục tiêu (trực tiếp)',
    'logs.service': 'Dịch vụ',
    'logs.source': 'Địa chỉ nguồn',
    'logs.text': 'Nội dung chứa',
    'logs.all': 'Tất cả',
    'logs.empty': 'Chưa có dòng nhật ký nào. Nhật ký của các mục tiêu sẽ hiện tại đây ngay khi chúng được ghi.',
    'logs.noMatch': 'Không dòng nào khớp bộ lọc.',
    'logs.count': 'Hiển thị {shown} / {total} dòng',
    'logs.line': 'Dòng nhật ký',
    'logs.dropped': '{n} dòng bị bỏ qua vì đến quá nhanh',

    'det.title': 'Báo cáo phát hiện tấn công',
    'det.attacker': 'Đội tấn công hoặc địa chỉ nguồn',
    'det.service': 'Dịch vụ',
    'det.seenAt': 'Thời điểm phát hiện',
    'det.technique': 'Kỹ thuật ATT&CK (không bắt buộc)',
    'det.store': 'Kho cờ bị truy cập (không bắt buộc)',
    'det.notes': 'Ghi chú',
    'det.submit': 'Gửi báo cáo',
    'det.sent': 'Đã gửi báo cáo #{id}: {verdict}.',
    'det.error': 'Máy chủ từ chối báo cáo ({status}): {error}',
    'det.verdicts': 'Kết quả chấm báo cáo',
    'det.none': 'Chưa có báo cáo nào.',
    'det.listError': 'Không tải được danh sách báo cáo ({status}): {error}',
    'det.noStore': '— không rõ —',

    'admin.title': 'Bảng điều khiển ban tổ chức',
    'admin.phase': 'Giai đoạn diễn tập',
    'admin.phaseNow': 'Hiện tại: {phase}',
    'admin.frozen': 'bảng điểm đóng băng',
    'admin.btn.start': 'Bắt đầu',
    'admin.btn.pause': 'Tạm dừng',
    'admin.btn.resume': 'Tiếp tục',
    'admin.btn.freeze': 'Đóng băng',
    'admin.btn.end': 'Kết thúc',
    'admin.confirm.title': 'Xác nhận',
    'admin.confirm.start': 'Bắt đầu diễn tập? Các lượt và việc cắm cờ sẽ bắt đầu ngay.',
    'admin.confirm.pause': 'Tạm dừng diễn tập? Cờ không được nhận và thời gian tạm dừng không được tính điểm khả dụng.',
    'admin.confirm.resume': 'Tiếp tục diễn tập?',
    'admin.confirm.freeze': 'Đóng băng bảng điểm công khai? Khán giả sẽ không thấy điểm thay đổi cho tới khi kết thúc. Không thể huỷ.',
    'admin.confirm.end': 'Kết thúc diễn tập? Không thể tiếp tục sau khi kết thúc.',
    'admin.confirm.ok': 'Đồng ý',
    'admin.confirm.cancel': 'Huỷ',
    'admin.phaseDone': 'Đã chuyển sang: {phase}.',
    'admin.phaseError': 'Không thực hiện được ({status}): {error}',
    'admin.board': 'Bảng điểm thực (không đóng băng)',
    'admin.teams': 'Các đội và mã truy cập',
    'admin.showTokens': 'Hiện mã',
    'admin.hideTokens': 'Ẩn mã',
    'admin.csv': 'Tải CSV để phát cho các đội',
    'admin.token': 'Mã đội',
    'admin.range': 'Tình trạng hạ tầng diễn tập',
    'admin.refresh': 'Làm mới',
    'admin.rangeEmpty': 'Không có dữ liệu.',
    'admin.sharing': 'Nghi vấn chia sẻ cờ',
    'admin.sharingEmpty': 'Chưa có nghi vấn nào.',
    'admin.sharingOff': 'Kịch bản không bật require_telemetry: các lần chiếm cờ không được đối chiếu với dấu vết kết nối của cổng vào, nên không có nghi vấn.',
    'admin.pending': '{n} lần chiếm cờ đang chờ hết thời hạn cờ để đối chiếu.',
    'admin.clusters': 'Cùng một cờ, nhiều đội, không có kết nối',
    'admin.unverified': 'Chiếm cờ không có kết nối tương ứng',
    'admin.flagTick': 'Cờ của lượt',
    'admin.teamsInOrder': 'Các đội (theo thứ tự nộp)',
    'admin.spread': 'Trong vòng',
    'admin.verifiedBy': 'Đội chiếm hợp lệ',
    'admin.connections': 'Kết nối',
    'admin.lastContact': 'Lần kết nối cuối',
    'admin.never': 'chưa từng',
    'admin.exports': 'Xuất dữ liệu',
    'admin.export.ctftime': 'CTFtime (JSON)',
    'admin.export.csv': 'Bảng điểm (CSV)',
    'admin.export.json': 'Bảng điểm (JSON)',
    'admin.export.events': 'Toàn bộ nhật ký sự kiện (JSON lines)',
    'admin.ticker': 'Toàn bộ diễn biến',
    'admin.loadError': 'Không tải được ({status}): {error}',

    'scoring.title': 'Cách tính điểm',
    'scoring.intro': 'Mọi con số trên bảng điểm là một hàm của nhật ký sự kiện: có thể tính lại từng điểm bằng lệnh cyrange replay. Các hằng số dưới đây là của kịch bản đang chạy.',
    'scoring.constants': 'Hằng số của kịch bản',
    'scoring.tick': 'Độ dài một lượt',
    'scoring.lifetime': 'Thời hạn của cờ (L)',
    'scoring.lifetimeVal': '{n} lượt',
    'scoring.A': 'Số đội có tấn công (A)',
    'scoring.defenders': 'Số đội phòng thủ',
    'scoring.flagFormat': 'Định dạng cờ',
    'scoring.telemetry': 'Yêu cầu dấu vết kết nối',
    'scoring.yes': 'có',
    'scoring.no': 'không',
    'scoring.duration': 'Thời lượng',
    'scoring.freezeAt': 'Đóng băng bảng điểm sau',
    'scoring.never': 'không đặt',
    'scoring.weights': 'Trọng số dịch vụ (w)',
    'scoring.stores': 'Kho cờ',
    'scoring.attack': 'Tấn công (mỗi lần chiếm cờ)',
    'scoring.attack.capture': 'Chiếm cờ f của dịch vụ s: cờ càng ít đội tìm ra càng có giá trị; điểm thay đổi khi n tăng.',
    'scoring.attack.n': 'n = số đội đã chiếm cùng cờ',
    'scoring.attack.firstBlood': 'Giọt máu đầu tiên (lần chiếm đầu tiên từ một kho cờ của dịch vụ):',
    'scoring.attack.never': 'Không có điểm cho cờ của chính đội (OWN), cờ nộp lại (DUP) hay cờ hết hạn (OLD).',
    'scoring.attack.telemetry': 'Chiếm cờ mà không ghi nhận được kết nối nào của đội tới dịch vụ (qua cổng vào hay từ máy tấn công của đội) trong thời hạn của cờ được 0 điểm và được đưa vào danh sách nghi vấn chia sẻ cờ.',
    'scoring.defence': 'Phòng thủ (mỗi đội phòng thủ, mỗi dịch vụ)',
    'scoring.defence.sla': 'Khả dụng mỗi lượt: OK được',
    'scoring.defence.slaHalf': 'RECOVERING được một nửa, MUMBLE và OFFLINE được 0. Các lượt tạm dừng, và các lần kiểm tra xong sau khi diễn tập kết thúc, không được tính.',
    'scoring.defence.lost': 'Mỗi cờ bị n đội chiếm:',
    'scoring.defence.protected': 'Mỗi cờ đã cắm thành công và hết hạn mà không bị chiếm:',
    'scoring.detect': 'Phát hiện tấn công',
    'scoring.detect.incident': 'Sự cố là chuỗi lượt liên tiếp trong đó đội a có kết nối tới dịch vụ s (theo dấu vết của cổng vào, và bản ghi kết nối của chính mục tiêu với lưu lượng từ máy tấn công của đội). Một kết nối được tính từ lúc mở, ở mọi lượt nó còn mở. Báo cáo đúng khi khớp một sự cố của đội đó trên dịch vụ đó còn hoạt động trong L lượt trước báo cáo; báo cáo chỉ bị chấm sai hoặc trùng khi dấu vết của thời điểm báo cáo đã đầy đủ.',
    'scoring.detect.true': 'Báo cáo đúng:',
    'scoring.detect.timely': 'Thưởng kịp thời, với t là thời gian từ kết nối đầu tiên của sự cố tới lúc báo cáo:',
    'scoring.detect.false': 'Báo cáo sai (không khớp sự cố nào):',
    'scoring.detect.dup': 'Báo cáo thứ hai về cùng một sự cố: 0 điểm.',
    'scoring.detect.store': 'Nêu đúng kho cờ kẻ tấn công đã chạm tới (khớp một lần chiếm cờ):',
    'scoring.totals': 'Tổng điểm và xếp hạng',
    'scoring.totals.attack': 'Đội tấn công xếp theo điểm tấn công.',
    'scoring.totals.defence': 'Đội phòng thủ: khả dụng + cờ giữ được − cờ bị mất + phát hiện.',
    'scoring.totals.both': 'Trong thi đấu tấn công/phòng thủ kiểu cổ điển (vai trò both): tổng = tấn công + phòng thủ, một bảng xếp hạng chung.',
    'scoring.totals.ties': 'Bằng điểm: đội có sự kiện ghi điểm cuối cùng sớm hơn xếp trên.',
    'scoring.example': 'Ví dụ với dịch vụ {service} (w = {w})',
    'scoring.perTick': 'mỗi lượt',
    'scoring.minutes': '{n} phút',
    'scoring.seconds': '{n} giây',
    'scoring.timelyAt': 'báo cáo sau {t}',
    'scoring.capturedBy': 'n = {n}',
  },
  en: {
    'lang.switch': 'Tiếng Việt',
    'lang.switch.label': 'Switch the language to Vietnamese',
    'skip': 'Skip to the main content',
    'nav.label': 'Pages',
    'nav.board': 'Scoreboard',
    'nav.war': 'War room',
    'nav.scoring': 'How scoring works',
    'nav.team': 'Team portal',
    'nav.admin': 'Organizer',
    'brand': 'cyrange',

    'conn.connecting': 'Connecting…',
    'conn.live': 'Live',
    'conn.retrying': 'Connection lost, retrying…',

    'clock.tick': 'Tick',
    'clock.left': 'Left',
    'clock.progress': 'Progress of the current tick',

    'phase.setup': 'Setup',
    'phase.running': 'Running',
    'phase.paused': 'Paused',
    'phase.ended': 'Ended',
    'banner.setup': 'The exercise has not started yet.',
    'banner.paused': 'The exercise is paused.',
    'banner.ended': 'The exercise is over: these are the final results.',
    'banner.frozen': 'The scoreboard is frozen: scores are no longer updated in public until the end.',
    'banner.frozen.paused': 'The scoreboard is frozen and the exercise is paused.',

    'board.title': 'Live scoreboard',
    'board.standings': 'Standings',
    'board.chart': 'Score over time',
    'board.matrix': 'Service status',
    'board.ticker': 'Live events',
    'board.loading': 'Loading…',
    'board.noTeams': 'No teams yet.',
    'board.noChecks': 'No check results yet.',
    'board.noEvents': 'Nothing has happened yet.',
    'board.noHistory': 'The chart appears once ticks begin.',
    'board.chartTop': 'Top {n} teams',
    'board.chartAxis': 'Tick',
    'board.chartLabel': 'Total score of {n} teams by tick',
    'board.frozenNote': 'frozen',

    'role.both': 'Attack & defence',
    'role.attack': 'Attack teams',
    'role.defence': 'Defence',
    'role.organizer': 'Organizer',

    'col.rank': 'Rank',
    'col.team': 'Team',
    'col.total': 'Total',
    'col.attack': 'Attack',
    'col.captures': 'Captures',
    'col.firstBloods': 'First bloods',
    'col.availability': 'Availability',
    'col.lost': 'Lost',
    'col.protected': 'Protected',
    'col.detection': 'Detection',
    'col.service': 'Service',
    'col.time': 'Time',
    'col.target': 'Target',
    'col.points': 'Points',
    'col.address': 'Address',
    'col.status': 'Status',
    'col.history': 'Recent ticks',
    'col.role': 'Role',

    'rank.up': 'up {n}',
    'rank.down': 'down {n}',
    'strip.label': 'Recent ticks: {summary}',
    'strip.tick': 'Tick {tick}: {status}',

    'status.OK': 'working',
    'status.RECOVERING': 'recovering',
    'status.MUMBLE': 'faulty',
    'status.OFFLINE': 'unreachable',
    'status.INTERNAL_ERROR': 'checker error (not the team’s fault)',
    'status.UNKNOWN': 'not checked yet',
    'status.unknownShort': 'UNKNOWN',

    'ticker.capture': '{team} captured a {service} flag of {target}',
    'ticker.first_blood': 'First blood! {team} on {service}/{store} of {target}',
    'ticker.service_down': '{service} of {target} is down ({status})',
    'ticker.service_up': '{service} of {target} is back up',
    'ticker.detection': '{team} detected an attack on {service}',
    'ticker.verdict': 'Detection report on {service}: {verdict}',
    'ticker.phase': 'Exercise: {action}',
    'ticker.skipped': '… and {n} more events',
    'action.start': 'started',
    'action.pause': 'paused',
    'action.resume': 'resumed',
    'action.freeze': 'scoreboard frozen',
    'action.end': 'ended',
    'verdict.pending': 'pending',
    'verdict.true_positive': 'true positive',
    'verdict.false_positive': 'false positive',
    'verdict.duplicate': 'duplicate of a credited incident',

    'war.title': 'War room',
    'war.fullscreen': 'Full screen',
    'war.exit': 'Back to the scoreboard',
    'war.firstBlood': 'FIRST BLOOD',
    'war.defended': 'Defended system',
    'war.label': 'Attack map: attack teams around the defended system; every capture draws an arc.',

    'login.title': 'Log in',
    'login.intro': 'Enter the team token the organizers gave you.',
    'login.token': 'Team token',
    'login.show': 'Show',
    'login.hide': 'Hide',
    'login.submit': 'Log in',
    'login.invalid': 'Wrong token. Check the token the organizers gave you.',
    'login.failed': 'Could not log in',
    'login.as': 'Logged in as',
    'logout': 'Log out',
    'login.organizerHere': 'You logged in with the organizer token.',
    'login.openAdmin': 'Open the organizer console',
    'login.teamOnAdmin': 'This console is for the organizers only. You are logged in as team {team}.',
    'login.openTeam': 'Back to the team portal',

    'team.title': 'Team portal',
    'team.rank': 'Rank',
    'team.total': 'Total',
    'team.rankOf': '{rank} of {n}',
    'team.attackPanel': 'Attack',
    'team.defencePanel': 'Defence',

    'flags.title': 'Submit flags',
    'flags.help': 'Paste flags, one per line (up to 1000).',
    'flags.label': 'Flags',
    'flags.submit': 'Submit',
    'flags.none': 'There is no flag to submit.',
    'flags.results': 'Verdicts',
    'flags.empty': 'No flags submitted yet.',
    'flags.summary': '{n} flags: {parts}',
    'flags.error': 'The server refused ({status}): {error}',
    'flags.flag': 'Flag',
    'flags.verdict': 'Verdict',
    'flags.message': 'Details',
    'code.OK': 'accepted',
    'code.DUP': 'already submitted',
    'code.OWN': 'your own flag',
    'code.OLD': 'too old',
    'code.INV': 'invalid',
    'code.ERR': 'error, try again later',

    'captures.title': 'Our captures',
    'captures.empty': 'No captures yet.',

    'targets.title': 'Targets and how to reach them',
    'targets.refresh': 'Refresh',
    'targets.gateway': 'Your team’s gateway (SOCKS5)',
    'targets.gatewayAddr': 'Address',
    'targets.user': 'User name',
    'targets.password': 'Password',
    'targets.passwordIs': 'your team token',
    'targets.source': 'Source addresses',
    'targets.noGateway': 'The server gives no gateway: reach the targets directly from your team’s network.',
    'targets.examples': 'Examples',
    'targets.none': 'No targets.',
    'targets.info': 'Hints per tick (attackInfo)',
    'targets.noInfo': 'none yet',
    'targets.ports': 'Ports',

    'def.services': 'Our services',
    'def.noServices': 'The team defends no service.',
    'def.console': 'Admin console',
    'def.noConsole': 'no address yet',
    'def.recent': '{pct} over the last {n} ticks',
    'def.flags': 'Flags lost and protected',
    'def.lost': 'Flags lost',
    'def.protected': 'Flags protected',
    'def.flagsLine': '{n} flags · {pts} points',
    'def.detectionPts': 'Detection points',
    'def.systems': 'Your own systems',
    'def.systemsIntro': 'Each replica’s admin console, opened through your team’s defence gateway. The page that opens is the replica’s (attackers may hold it by now), not cyrange’s: never type your team token into it.',
    'def.open': 'Open admin console',
    'def.openLabel': 'Open the admin console of {service} in a new tab',
    'def.viaGateway': 'Address through the gateway',
    'def.operator': 'Operator login',
    'def.noOperator': 'none',
    'def.showLabel': 'Show the operator password of {service}',
    'def.hideLabel': 'Hide the operator password of {service}',
    'def.noProxy': 'This cyrange server does not open the admin consoles in the browser: use your own tools through your defence gateway (below).',
    'def.tools': 'Your tools',
    'def.gateway': 'Defence gateway (SOCKS5)',
    'def.noGateway': 'The server gives your team no defence gateway yet.',
    'def.token': 'Replace $TOKEN with your team token (for instance export TOKEN=…); this page never shows it.',
    'def.exCurl': 'The admin console, with curl:',
    'def.exProxychains': 'Any other tool, through proxychains:',
    'def.exBox': 'The defence box (only when the scenario has defence_box):',
    'def.box': 'Log in with your team’s short name; the password is your team token. Each replica’s log is there, read-only: /var/log/replica/SERVICE/SERVICE.log.',

    'logs.title': 'Target logs (live)',
    'logs.service': 'Service',
    'logs.source': 'Source address',
    'logs.text': 'Text contains',
    'logs.all': 'All',
    'logs.empty': 'No log lines yet. The targets’ log lines appear here as soon as they are written.',
    'logs.noMatch': 'No line matches the filters.',
    'logs.count': 'Showing {shown} of {total} lines',
    'logs.line': 'Log line',
    'logs.dropped': '{n} lines dropped: they came too fast',

    'det.title': 'Report a detection',
    'det.attacker': 'Attack team or source address',
    'det.service': 'Service',
    'det.seenAt': 'Seen at',
    'det.technique': 'ATT&CK technique (optional)',
    'det.store': 'Flag store reached (optional)',
    'det.notes': 'Notes',
    'det.submit': 'Send report',
    'det.sent': 'Report #{id} sent: {verdict}.',
    'det.error': 'The server refused the report ({status}): {error}',
    'det.verdicts': 'Verdicts',
    'det.none': 'No reports yet.',
    'det.listError': 'Could not load the reports ({status}): {error}',
    'det.noStore': '— unknown —',

    'admin.title': 'Organizer console',
    'admin.phase': 'Exercise phase',
    'admin.phaseNow': 'Now: {phase}',
    'admin.frozen': 'scoreboard frozen',
    'admin.btn.start': 'Start',
    'admin.btn.pause': 'Pause',
    'admin.btn.resume': 'Resume',
    'admin.btn.freeze': 'Freeze',
    'admin.btn.end': 'End',
    'admin.confirm.title': 'Please confirm',
    'admin.confirm.start': 'Start the exercise? Ticks and flag planting begin at once.',
    'admin.confirm.pause': 'Pause the exercise? No flags are taken and paused ticks earn no availability.',
    'admin.confirm.resume': 'Resume the exercise?',
    'admin.confirm.freeze': 'Freeze the public scoreboard? The audience sees no score change until the end. This cannot be undone.',
    'admin.confirm.end': 'End the exercise? It cannot be resumed afterwards.',
    'admin.confirm.ok': 'Confirm',
    'admin.confirm.cancel': 'Cancel',
    'admin.phaseDone': 'Now {phase}.',
    'admin.phaseError': 'Not done ({status}): {error}',
    'admin.board': 'The real board (never frozen)',
    'admin.teams': 'Teams and tokens',
    'admin.showTokens': 'Show tokens',
    'admin.hideTokens': 'Hide tokens',
    'admin.csv': 'Download CSV to hand out',
    'admin.token': 'Token',
    'admin.range': 'Range health',
    'admin.refresh': 'Refresh',
    'admin.rangeEmpty': 'No data.',
    'admin.sharing': 'Suspected flag sharing',
    'admin.sharingEmpty': 'No suspicion so far.',
    'admin.sharingOff': 'The scenario does not set require_telemetry: captures are not checked against the gateways’ connections, so nothing is suspected.',
    'admin.pending': '{n} captures wait for their flag’s lifetime to end before they are checked.',
    'admin.clusters': 'One flag, several teams, no connection',
    'admin.unverified': 'Captures without a matching connection',
    'admin.flagTick': 'Flag of tick',
    'admin.teamsInOrder': 'Teams (in submission order)',
    'admin.spread': 'Within',
    'admin.verifiedBy': 'Verified captors',
    'admin.connections': 'Connections',
    'admin.lastContact': 'Last contact',
    'admin.never': 'never',
    'admin.exports': 'Exports',
    'admin.export.ctftime': 'CTFtime (JSON)',
    'admin.export.csv': 'Standings (CSV)',
    'admin.export.json': 'Standings (JSON)',
    'admin.export.events': 'Full event log (JSON lines)',
    'admin.ticker': 'All events',
    'admin.loadError': 'Could not load ({status}): {error}',

    'scoring.title': 'How scoring works',
    'scoring.intro': 'Every number on the board is a function of the event log: cyrange replay recomputes every point. The constants below are the running scenario’s.',
    'scoring.constants': 'Scenario constants',
    'scoring.tick': 'Tick length',
    'scoring.lifetime': 'Flag lifetime (L)',
    'scoring.lifetimeVal': '{n} ticks',
    'scoring.A': 'Attack-capable teams (A)',
    'scoring.defenders': 'Defending teams',
    'scoring.flagFormat': 'Flag format',
    'scoring.telemetry': 'Telemetry required',
    'scoring.yes': 'yes',
    'scoring.no': 'no',
    'scoring.duration': 'Duration',
    'scoring.freezeAt': 'Scoreboard freezes after',
    'scoring.never': 'not set',
    'scoring.weights': 'Service weights (w)',
    'scoring.stores': 'Flag stores',
    'scoring.attack': 'Attack (per capture)',
    'scoring.attack.capture': 'Capture of flag f of service s: a flag few teams found is worth more; points move as n grows.',
    'scoring.attack.n': 'n = number of teams that captured the same flag',
    'scoring.attack.firstBlood': 'First blood (the first capture ever from a flag store of a service):',
    'scoring.attack.never': 'No points for a team’s own flags (OWN), a flag twice (DUP) or an expired flag (OLD).',
    'scoring.attack.telemetry': 'A capture for which no connection from the team to the service was seen (through its gateway or from its attack box) during the flag’s lifetime scores 0 and is listed as suspected flag sharing.',
    'scoring.defence': 'Defence (per defending team, per service)',
    'scoring.defence.sla': 'Availability per tick: OK earns',
    'scoring.defence.slaHalf': 'RECOVERING earns half, MUMBLE and OFFLINE nothing. Paused ticks, and checks that finish after the exercise ended, do not count.',
    'scoring.defence.lost': 'Each own flag captured by n teams:',
    'scoring.defence.protected': 'Each flag planted successfully that expired never captured:',
    'scoring.detect': 'Detections',
    'scoring.detect.incident': 'An incident is a run of ticks in which attack team a had connections to service s (the gateway’s telemetry, and the target’s own connection records for traffic from the team’s attack box). A connection counts from the moment it opens, in every tick it stays open. A report is a true positive when it matches an incident of that team on that service active within the last L ticks before the report; it is judged false or duplicate only once the ground truth of its time is complete.',
    'scoring.detect.true': 'True positive:',
    'scoring.detect.timely': 'Timeliness bonus, t being the time from the incident’s first connection to the report:',
    'scoring.detect.false': 'False positive (matches no incident):',
    'scoring.detect.dup': 'A second report on an incident already credited: 0.',
    'scoring.detect.store': 'Naming the flag store the attacker reached (matching a capture):',
    'scoring.totals': 'Totals and ranking',
    'scoring.totals.attack': 'Attack teams are ranked by attack points.',
    'scoring.totals.defence': 'Defence: availability + protected − lost + detections.',
    'scoring.totals.both': 'In a classic attack/defence game (role both): total = attack + defence, one ranking for all.',
    'scoring.totals.ties': 'Ties: the team whose last scoring event came first ranks first.',
    'scoring.example': 'Example with service {service} (w = {w})',
    'scoring.perTick': 'per tick',
    'scoring.minutes': '{n} min',
    'scoring.seconds': '{n} s',
    'scoring.timelyAt': 'report after {t}',
    'scoring.capturedBy': 'n = {n}',
  },
};

let current = 'vi';
const listeners = [];
let numFmt = {};

function stored() {
  try {
    const v = localStorage.getItem(STORE_KEY);
    return LANGS.includes(v) ? v : null;
  } catch {
    return null;
  }
}

// t returns the text of key in the current language with {name}
// placeholders filled from vars; an unknown key shows itself, which a
// test or a reviewer notices at once.
export function t(key, vars) {
  let s = dict[current][key] ?? dict.vi[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

export function lang() {
  return current;
}

export function intlLocale() {
  return INTL[current];
}

let scenarioInfo = null;

// scenario returns the running scenario's constants (/api/v1/scoring),
// fetched once per page, or null when the server does not answer.
export function scenario() {
  scenarioInfo ??= fetch('/api/v1/scoring', { credentials: 'same-origin' })
    .then((r) => (r.ok ? r.json() : null))
    .catch(() => null);
  return scenarioInfo;
}

// initLang picks the language: the visitor's choice, else the scenario's,
// else Vietnamese. It never waits on the network when a choice is stored.
export async function initLang() {
  const l = stored() ?? (await scenario())?.locale;
  apply(LANGS.includes(l) ? l : 'vi');
}

export function setLang(l) {
  if (!LANGS.includes(l)) return;
  try {
    localStorage.setItem(STORE_KEY, l);
  } catch {
    // Private mode: the choice lasts for this page only.
  }
  apply(l);
}

export function onLangChange(fn) {
  listeners.push(fn);
}

function apply(l) {
  current = l;
  numFmt = {};
  document.documentElement.lang = l;
  translate(document);
  for (const fn of listeners) fn(l);
}

// translate sets every static text of root from its data-i18n keys.
export function translate(root) {
  for (const e of root.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
  for (const attr of ['aria-label', 'title', 'placeholder']) {
    for (const e of root.querySelectorAll(`[data-i18n-${attr}]`)) e.setAttribute(attr, t(e.getAttribute(`data-i18n-${attr}`)));
  }
}

function nf(key, opts) {
  if (!numFmt[key]) numFmt[key] = new Intl.NumberFormat(INTL[current], opts);
  return numFmt[key];
}

export function fmtNum(v, digits = 2) {
  return nf(`n${digits}`, { maximumFractionDigits: digits }).format(v ?? 0);
}

export function fmtSigned(v, digits = 2) {
  return nf(`s${digits}`, { maximumFractionDigits: digits, signDisplay: 'exceptZero' }).format(v ?? 0);
}

export function fmtPct(v) {
  return nf('pct', { style: 'percent', maximumFractionDigits: 1 }).format(v ?? 0);
}

export function fmtTime(iso) {
  if (!iso) return '';
  return new Intl.DateTimeFormat(INTL[current], { hour: '2-digit', minute: '2-digit', second: '2-digit' }).format(new Date(iso));
}

export function fmtDateTime(iso) {
  if (!iso) return '';
  return new Intl.DateTimeFormat(INTL[current], { dateStyle: 'short', timeStyle: 'medium' }).format(new Date(iso));
}

// fmtDuration words a number of seconds as minutes or seconds.
export function fmtDuration(sec) {
  if (sec >= 60 && sec % 60 === 0) return t('scoring.minutes', { n: fmtNum(sec / 60) });
  if (sec >= 60) return t('scoring.minutes', { n: fmtNum(sec / 60, 1) });
  return t('scoring.seconds', { n: fmtNum(sec) });
}
