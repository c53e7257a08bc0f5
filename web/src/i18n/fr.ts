// Catalogue français (les clés de en.ts, toutes : le type Catalogue et i18n.test.ts le vérifient).
import type { Catalogue } from "./en";

const fr: Catalogue = {
  nav: { dashboard: "Tableau de bord", explorer: "Explorateur de journaux", alerts: "Alertes", rules: "Règles", users: "Utilisateurs et clés", sources: "Sources", settings: "Paramètres" },
  shell: {
    language: "Langue", languages: { fr: "Français", en: "English" }, darkTheme: "Thème sombre", lightTheme: "Thème clair",
    logout: "Se déconnecter", menu: "Menu", navigation: "Navigation principale", forbidden: "Votre rôle ne donne pas accès à cette page.",
    notFound: "Cette page n'existe pas.",
  },
  roles: { viewer: "lecteur", analyst: "analyste", admin: "administrateur" },
  levels: { critical: "critique", high: "élevé", medium: "moyen", low: "faible", informational: "info", unknown: "inconnu" },
  common: {
    loading: "Chargement…", failed: "Cela n'a pas marché ; réessayez.", unreachable: "Guetteur ne répond pas ; vérifiez le réseau.",
    save: "Enregistrer", close: "Fermer", copy: "Copier", copied: "Copié", yes: "oui", no: "non", actions: "Actions", more: "Voir plus",
    shownOnce: "Affiché une seule fois : copiez-le maintenant, il ne pourra plus être affiché.",
  },
  login: {
    title: "Connexion", intro: "Connectez-vous à la console Guetteur.", username: "Nom d'utilisateur", password: "Mot de passe",
    totp: "Code (second facteur)", totpHelp: "Les 6 chiffres de votre application d'authentification, si vous en avez activé une",
    submit: "Se connecter", failed: "Nom d'utilisateur, mot de passe ou code incorrect.", throttled: "Trop d'échecs : patientez un peu avant de réessayer.",
    expired: "Votre session a pris fin : reconnectez-vous pour reprendre là où vous étiez.",
  },
  totp: {
    title: "Activer un second facteur", why: "Les administrateurs doivent utiliser un second facteur (TOTP) avant toute autre chose.",
    start: "Générer mon secret", scan: "Ajoutez ce compte à votre application d'authentification (scannez l'URI en QR code ou saisissez le secret) :",
    secret: "Secret", code: "Code actuel", confirm: "Confirmer", wrongCode: "Code erroné : vérifiez l'heure du téléphone et essayez le code suivant.",
  },
  time: {
    pick: "Période", relative: "Relative", absolute: "Absolue", start: "Début", end: "Fin", apply: "Appliquer", now: "maintenant",
    unreadable: "Saisissez un début et une fin valides.", startAfterEnd: "Le début doit précéder la fin.",
    last: {
      s_one: "Dernière seconde", s_other: "{{count}} dernières secondes", m_one: "Dernière minute", m_other: "{{count}} dernières minutes",
      h_one: "Dernière heure", h_other: "{{count}} dernières heures", d_one: "Dernier jour", d_other: "{{count}} derniers jours",
      w_one: "Dernière semaine", w_other: "{{count}} dernières semaines",
    },
  },
  stream: { off: "arrêté", connecting: "connexion…", live: "en direct", closed: "déconnecté" },
  explorer: {
    query: "Requête KQL", queryPlaceholder: "ex. event.outcome:failure and source.ip:203.0.113.0/24", search: "Rechercher",
    errorAt: "Caractère {{position}} : {{message}}", count_one: "{{formatted}} événement", count_other: "{{formatted}} événements",
    liveTail: "Suivi en direct", export: "Exporter", savedSearches: "Recherches enregistrées", saveName: "Nom de cette recherche", saved: "Recherche enregistrée.",
    noSaved: "Aucune recherche enregistrée", histogram: "Événements dans le temps (glisser pour zoomer)", events: "Événements", fields: "Champs",
    findField: "Chercher un champ", noValues: "Aucune valeur dans l'échantillon", sampled_one: "sur le dernier événement correspondant",
    sampled_other: "sur les {{count}} derniers événements correspondants", filterIn: "Seulement {{field}} = {{value}}", filterOut: "Exclure {{field}} = {{value}}",
    toggleColumn: "Afficher {{field}} en colonne", results: "Résultats", noResults: "Aucun événement de cette période ne correspond à la requête.",
    waitingLive: "En attente de nouveaux événements…", window: "Du {{start}} au {{end}}",
  },
  event: { title: "Événement", original: "Ligne d'origine", noOriginal: "(ligne d'origine non conservée)", surrounding: "Autour, sur {{host}}", fields: "Champs ECS" },
  dashboard: {
    rate: "Événements par seconde", rateNow: "reçus {{in}}/s · stockés {{stored}}/s", in: "reçus", stored: "stockés",
    overTime: "Événements, dernières 24 h", openExplorer: "Ouvrir dans l'explorateur", topHosts: "Hôtes les plus actifs", topUsers: "Utilisateurs les plus actifs",
    topSources: "Adresses sources les plus actives", topRules: "Règles les plus déclenchées", nothing: "Rien ces dernières 24 h",
    detections: "Détections en direct", noDetections: "Aucune détection depuis l'ouverture de cette page.",
  },
  users: {
    title: "Utilisateurs", name: "Nom", role: "Rôle", roleOf: "Rôle de {{name}}", password: "Mot de passe", passwordHelp: "Laisser vide pour en générer un",
    create: "Créer", created: "Utilisateur {{name}} créé.", passwordFor: "Mot de passe de {{name}}", totp: "Second facteur", state: "État",
    active: "actif", disabled: "désactivé", createdAt: "Créé le", enable: "Activer", disable: "Désactiver",
    resetPassword: "Nouveau mot de passe", resetTotp: "Réinitialiser le second facteur",
  },
  keys: {
    title: "Clés machine", intro: "Une clé d'ingestion permet à un émetteur d'envoyer des journaux ; une clé de lecture permet à un script de chercher. Une clé n'est affichée qu'une fois.",
    name: "Nom", scope: "Portée", ingest: "ingestion", read: "lecture", create: "Créer une clé", token: "La nouvelle clé", lastUsed: "Dernier usage",
    never: "jamais", revoke: "Révoquer", confirmRevoke: "Révoquer la clé {{name}} ? Les émetteurs qui l'utilisent seront refusés.",
  },
  rules: {
    filter: "Filtrer les règles", readOnly: "Les règles sont des fichiers sur le serveur (rules/) : modifiez-les là ; Guetteur les recharge.",
    detection_one: "{{count}} règle de détection", detection_other: "{{count}} règles de détection",
    correlations_one: "{{count}} corrélation", correlations_other: "{{count}} corrélations",
    rule: "Règle", level: "Niveau", techniques: "ATT&CK", source: "Fichier", hits: "Déclenchements", evaluations: "Évaluations", state: "État",
    alerting: "alerte", feedsOnly: "alimente des corrélations", off: "désactivée", type: "Type", condition: "Condition",
  },
  audit: {
    title: "Journal d'audit", verifyHow: "Chaque ligne est chaînée à la précédente ; vérifiez toute la chaîne sur le serveur avec",
    at: "Quand", actor: "Qui", action: "Action", outcome: "Résultat", address: "Adresse", target: "Cible", detail: "Détail",
    outcomes: { success: "réussite", failure: "échec" },
  },
  sources: {
    connect: "Connecter un émetteur", intro: "Choisissez votre émetteur, créez une clé d'ingestion neuve, copiez la configuration : les compteurs ci-dessous montrent les premiers événements en quelques secondes.",
    host: "Adresse de ce serveur vue des émetteurs", syslogPort: "Port syslog", newKey: "Créer une clé d'ingestion",
    keyReady: "La clé figure dans les configurations ci-dessous : copiez-les maintenant, elle ne sera plus affichée.", keyPlaceholder: "<CLÉ-D-INGESTION>",
    counters: "Ce qui arrive, par source", none: "Rien reçu pour l'instant.", source: "Source", received: "Reçus", stored: "Stockés",
    unparsed: "Non compris", dropped: "Perdus", health: "État", receiving: "reçoit", silent: "silencieuse", dropping: "perd des messages",
    help: {
      rsyslog: "Sur un serveur Linux : écrivez ce fichier, puis `systemctl restart rsyslog`.",
      curl: "Pour envoyer un fichier une fois, ou depuis un script (clé d'ingestion nécessaire).",
      fluentbit: "La sortie HTTP de Fluent Bit, un événement JSON par ligne.",
    },
  },
  alerts: { notYet: "La liste des alertes arrive avec l'API des alertes." },
};

export default fr;
