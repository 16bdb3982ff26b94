// Every text the pages show, in Russian and English. Pages carry data-i18n keys only.
const TEXTS = {
  ru: {
    "app.name": "Урок",
    "app.tagline": "Онлайн-уроки, дневник и журнал школы",
    "lang.label": "Язык",
    "lang.switch": "English",
    "skip": "Перейти к содержанию",
    "login.title": "Вход",
    "login.username": "Логин",
    "login.password": "Пароль",
    "login.submit": "Войти",
    "login.busy": "Входим…",
    "login.demo": "Демо: teacher, student, parent, panel или admin, пароль urok-demo",
    "error.bad_credentials": "Неверный логин или пароль.",
    "error.rate_limited": "Слишком много попыток. Попробуйте через {seconds} с.",
    "error.invalid_body": "Введите логин и пароль.",
    "error.network": "Сервер не отвечает. Проверьте соединение.",
    "error.generic": "Что-то пошло не так: {message}",
    "today.title": "Сегодня",
    "today.signout": "Выйти",
    "today.lessons": "Уроки на сегодня",
    "today.none": "Сегодня уроков нет.",
    "today.loading": "Загружаем расписание…",
    "today.online": "Онлайн",
    "today.inclass": "В классе",
    "today.teacher": "Учитель",
    "today.class": "Класс",
    "today.child": "Ребёнок",
    "today.panel": "Эта панель ждёт, когда учитель подключит её к уроку.",
    "role.admin": "Администратор",
    "role.teacher": "Учитель",
    "role.student": "Ученик",
    "role.parent": "Родитель",
    "role.panel": "Панель",
    "live.connecting": "Подключаемся…",
    "live.connected": "На связи",
    "live.reconnecting": "Связь прервалась, переподключаемся…",
    "live.offline": "Нет связи",
    "live.label": "Связь",
  },
  en: {
    "app.name": "Urok",
    "app.tagline": "Online lessons, diary and register of your school",
    "lang.label": "Language",
    "lang.switch": "Русский",
    "skip": "Skip to content",
    "login.title": "Sign in",
    "login.username": "Username",
    "login.password": "Password",
    "login.submit": "Sign in",
    "login.busy": "Signing in…",
    "login.demo": "Demo: teacher, student, parent, panel or admin, password urok-demo",
    "error.bad_credentials": "Wrong username or password.",
    "error.rate_limited": "Too many attempts. Try again in {seconds} s.",
    "error.invalid_body": "Enter your username and password.",
    "error.network": "The server does not answer. Check your connection.",
    "error.generic": "Something went wrong: {message}",
    "today.title": "Today",
    "today.signout": "Sign out",
    "today.lessons": "Today's lessons",
    "today.none": "No lessons today.",
    "today.loading": "Loading the timetable…",
    "today.online": "Online",
    "today.inclass": "In class",
    "today.teacher": "Teacher",
    "today.class": "Class",
    "today.child": "Child",
    "today.panel": "This panel is waiting for a teacher to pair it with a lesson.",
    "role.admin": "Administrator",
    "role.teacher": "Teacher",
    "role.student": "Student",
    "role.parent": "Parent",
    "role.panel": "Panel",
    "live.connecting": "Connecting…",
    "live.connected": "Connected",
    "live.reconnecting": "Connection lost, reconnecting…",
    "live.offline": "Offline",
    "live.label": "Connection",
  },
};

const STORAGE_KEY = "urok.lang";

export function currentLanguage() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved && TEXTS[saved]) return saved;
  const preferred = navigator.languages?.[0] ?? navigator.language ?? "en";
  return preferred.toLowerCase().startsWith("ru") ? "ru" : "en";
}

export function t(key, values = {}) {
  const text = TEXTS[currentLanguage()][key] ?? TEXTS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

export function applyTexts(root = document) {
  document.documentElement.lang = currentLanguage();
  for (const element of root.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  for (const element of root.querySelectorAll("[data-i18n-placeholder]")) {
    element.placeholder = t(element.dataset.i18nPlaceholder);
  }
}

export function setLanguage(language) {
  if (!TEXTS[language]) return;
  localStorage.setItem(STORAGE_KEY, language);
  applyTexts();
  document.dispatchEvent(new CustomEvent("languagechange"));
}

export function toggleLanguage() {
  setLanguage(currentLanguage() === "ru" ? "en" : "ru");
}
