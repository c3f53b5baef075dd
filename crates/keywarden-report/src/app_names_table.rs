//! Display names of Microsoft first-party applications, by app id (lower-case, sorted for
//! binary search). Generated once from public lists (notices in `THIRD-PARTY-NOTICES.md`):
//! - ROADtools `roadtx` 1.22.1 (PyPI), `roadtools/roadtx/firstpartyscopes.json` (`apps.*.name`),
//!   506 entries;
//! - for the resource and service apps roadtx lacks (13 entries): the display names Microsoft
//!   Graph gives Microsoft's own service principals, as listed (source `Graph`) in
//!   merill/microsoft-info `_info/MicrosoftApps.csv`.
//!
//! A name is a label for people, never evidence: a forged token can claim any app id.

pub(crate) const MICROSOFT_APPS: &[(&str, &str)] = &[
    (
        "00000002-0000-0000-c000-000000000000",
        "Windows Azure Active Directory",
    ),
    (
        "00000002-0000-0ff1-ce00-000000000000",
        "Office 365 Exchange Online",
    ),
    ("00000003-0000-0000-c000-000000000000", "Microsoft Graph"),
    (
        "00000003-0000-0ff1-ce00-000000000000",
        "Office 365 SharePoint Online",
    ),
    ("00000007-0000-0000-c000-000000000000", "Dataverse"),
    (
        "00000007-0000-0ff1-ce00-000000000000",
        "Microsoft Exchange Online Protection",
    ),
    (
        "0000000c-0000-0000-c000-000000000000",
        "Microsoft App Access Panel",
    ),
    (
        "0000001a-0000-0000-c000-000000000000",
        "MicrosoftAzureActiveAuthn",
    ),
    (
        "0032593d-6a05-4847-8ca4-4b6220ed2a1e",
        "Microsoft_Azure_ELMAdmin",
    ),
    (
        "00b41c95-dab0-4487-9791-b9d2c32c80f2",
        "Office 365 Management",
    ),
    (
        "00daac17-a7ce-4990-a494-a7120e0b5c6c",
        "CloudNativeTesting Portal",
    ),
    (
        "0140a36d-95e1-4df5-918c-ca7ccd1fafc9",
        "Microsoft Developer Portal",
    ),
    (
        "01941e19-f441-4835-b4a0-546a1da6d99c",
        "Microsoft_Azure_Education",
    ),
    (
        "038ddad9-5bbe-4f64-b0cd-12434d1e633b",
        "ZTNA Network Access Client",
    ),
    (
        "03e204c9-d1db-4685-895c-00603f8bfb98",
        "Microsoft_Azure_Network",
    ),
    (
        "03ec703c-bc36-4494-b8ab-73e84692823a",
        "Microsoft_Azure_Compute",
    ),
    ("04045bf5-8e9f-4019-8613-af68af46ff56", "Vision Studio"),
    (
        "041e4c2d-ba3e-46a1-9347-5bc4054c8af4",
        "Power Automate Desktop GCC",
    ),
    (
        "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        "Microsoft Azure CLI",
    ),
    ("04f0c124-f2bc-4f59-8241-bf6df9866bbd", "Visual Studio"),
    ("05c7489d-bc20-4405-a3b4-cf0743f090ca", "PlacesCmdletModule"),
    (
        "065d9450-1e87-434e-ac2f-69af271549ed",
        "Power Platform Admin Center",
    ),
    (
        "0673e721-d668-419d-b8c7-709bfd1e7928",
        "Configuration Manager portal extension",
    ),
    (
        "067cf55c-59b8-432f-a11d-d904de42e97d",
        "Durable Task Scheduler Dashboard",
    ),
    (
        "08617521-6d76-4eb0-b336-a9efef0d8a68",
        "Microsoft_Azure_Kusto",
    ),
    (
        "087fca6e-4606-4d41-b3f6-5ebdf75b8b4c",
        "Kubernetes Runtime RP",
    ),
    (
        "08e18876-6177-487e-b8b5-cf950c1e598c",
        "SharePoint Online Web Client Extensibility",
    ),
    ("0922ef46-e1b9-4f7e-9134-9ad00547eb41", "Loop"),
    ("0973ecd5-7828-4430-9548-bb2331536767", "Feedback Hub"),
    (
        "09abbdfd-ed23-44ee-a2d9-a627aa1c90f3",
        "ProjectWorkManagement",
    ),
    (
        "0a2057a8-149c-40ca-859e-98de032535fb",
        "Microsoft Azure Marketplace",
    ),
    ("0b107b34-72a8-4081-a8ca-f3ecb0937531", "Microsoft Azure"),
    (
        "0bfc4568-a4ba-4c58-bd3e-5d3e76bd7fff",
        "Dynamics 365 AI for Customer Insights",
    ),
    ("0c1307d4-29d6-4389-a11c-5cbe7f65d7fa", "Microsoft Azure"),
    (
        "0c50de64-92f9-4ad5-bf88-1af4b40c3b8e",
        "Microsoft_Azure_ContainerService",
    ),
    (
        "0cd196ee-71bf-4fd6-a57c-b491ffd4fb1e",
        "Media Analysis and Transformation Service",
    ),
    (
        "0dc2408a-bbc0-4238-871e-13b372f0200f",
        "Windows Insider Program",
    ),
    (
        "0e25d998-b19a-4080-811c-d74d60d65e42",
        "Purview Information Protection Client",
    ),
    ("0e90d0b8-039a-4936-a6f4-d25dd510be5d", "Message Recall"),
    (
        "0ec893e0-5785-4de6-99da-4ed124e5296c",
        "Microsoft 365 Copilot",
    ),
    (
        "0f60ca62-b2fd-47d7-85aa-b2a71d6d658e",
        "Dataverse Portal - Prod",
    ),
    (
        "0f698dd4-f011-4d23-a33e-b36416dcb1e6",
        "OfficeClientService",
    ),
    (
        "0fac0caa-efd0-46cc-a6df-945f8c5eae54",
        "Microsoft Azure Batch Portal Extension",
    ),
    ("0fc12b9a-5463-4b87-8f10-765fecb39990", "SQL Copilot PPE"),
    (
        "0fdc37af-a69e-49ea-8ee9-a1d69e7edb0c",
        "Microsoft_Azure_Resources",
    ),
    (
        "102b3235-5b2f-432e-aee9-109e3afb15e1",
        "Microsoft_Azure_IotHub",
    ),
    (
        "11519663-03b7-4dd3-a316-5580360da33f",
        "Microsoft AzureCacheExtension",
    ),
    (
        "12128f48-ec9e-42f0-b203-ea49fb6af367",
        "MS Teams Powershell Cmdlets",
    ),
    ("12fb057d-b751-47cd-857c-f2934bb677b4", "Azure NetApp Files"),
    ("133c4dc0-9d5f-4826-9f7b-6bb3d3867e6a", "PADWAMigrator"),
    ("145fc680-eb72-4bcf-b4d5-8277021a1ce8", "Windows Shell"),
    ("14638111-3389-403d-b206-a6a71d9f8f16", "Copilot App"),
    (
        "14a2598c-aa73-409d-be42-7ac32d24a2cc",
        "Dynamics 365 AI for Customer Insights UX",
    ),
    ("15ddab63-ba81-45db-9bb6-6f8bc445c459", "Clipchamp Classic"),
    (
        "163b648b-025e-455b-9937-a7f39a65d171",
        "SSO Extension Intune",
    ),
    ("16f9b8e9-d20b-45a1-ab9e-db2e8254508b", "Azure Data Factory"),
    (
        "187f8db2-105c-43ce-b6ba-5d4112236e10",
        "Microsoft_Azure_CloudServices_Arm",
    ),
    (
        "189fe8f3-4e48-4a4b-9459-c230524890e6",
        "AFDX-Portal-1stPartyAAD-Prod",
    ),
    (
        "18e271e7-a818-46ad-8e73-07cb0ae64328",
        "Form Recognizer Studio",
    ),
    (
        "18ed3507-a475-4ccb-b669-d66bc9f2a36e",
        "Microsoft_AAD_RegisteredApps",
    ),
    ("18fbca16-2224-45f6-85b0-f7bf2b39b3f3", "Microsoft Docs"),
    (
        "1950a258-227b-4e31-a9cf-717495945fc2",
        "Microsoft Azure PowerShell",
    ),
    ("19db86c3-b2b9-44cc-b339-36da233a3be2", "My Signins"),
    (
        "1a20851a-696e-4c7e-96f4-c282dfe48872",
        "Editor Browser Extension",
    ),
    ("1b3c667f-cde3-4090-b60b-3d2abd0117f0", "Windows Spotlight"),
    (
        "1b730954-1685-4b74-9bfd-dac224a7b894",
        "Azure Active Directory PowerShell",
    ),
    (
        "1c083171-cb2d-4bd1-8da2-6f1ffea5d94c",
        "SupplierWeb-UI-Prod-App",
    ),
    (
        "1c8fc834-e4ea-42f6-8f09-8db8fde75446",
        "Microsoft_Azure_StackMigrate",
    ),
    (
        "1d79f5e8-4d44-4e06-be07-b0880cf2e64e",
        "Project Babylon Ibiza Extension",
    ),
    (
        "1d9f6aaf-ea7d-4193-a99f-ad27ad037e15",
        "Microsoft_Azure_CustomerHub",
    ),
    (
        "1dee7b72-b80d-4e56-933d-8b6b04f9a3e2",
        "RemoteAssistanceService",
    ),
    (
        "1e2401ea-428f-4575-9bbf-b301f7e1eb67",
        "Microsoft_Azure_AzConfig",
    ),
    (
        "1e3e4475-288f-4018-a376-df66fd7fac5f",
        "NetworkTrafficAnalyticsService",
    ),
    ("1f7f6f43-2f81-429c-8499-293566d0ab0c", "Get Help"),
    ("1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Teams"),
    ("203f1145-856a-4232-83d4-a43568fba23d", "Cosmos Explorer"),
    (
        "20a3058f-cd75-4115-8166-83f8c3767069",
        "Microsoft_Azure_RecoveryServices",
    ),
    (
        "21fd57f2-6ca5-43b9-b502-5611ab3b3930",
        "MicrosoftSecurityCopilotAzureExtensionApp",
    ),
    (
        "21ff6926-4d49-46ea-a34e-e9937fd65fea",
        "Microsoft_Azure_WVD",
    ),
    (
        "22098786-6e16-43cc-a27d-191a01a1e3b5",
        "Microsoft To-Do client",
    ),
    (
        "22b20989-8944-48d7-9b61-9f5e8b5d6c8f",
        "Microsoft_Azure_Migrate",
    ),
    (
        "22d27567-b3f0-4dc2-9ec2-46ed368ba538",
        "Reading Assignments",
    ),
    (
        "23d8f6bd-1eb0-4cc2-a08c-7bf525c67bcd",
        "Power BI PowerShell",
    ),
    (
        "243c63a3-247d-41c5-9d83-7788c43f1c43",
        "Office Online Core SSO",
    ),
    (
        "26109b29-37da-419b-9fe3-c080749aac85",
        "Liftr portal extension app for ms graph",
    ),
    (
        "268761a2-03f3-40df-8a8b-c3db24145b6b",
        "Universal Store Native Client",
    ),
    ("26a7ee05-5602-4d76-a7ba-eae8b7b67941", "Windows Search"),
    ("27922004-5251-4030-b22d-91ecd9a37ea4", "Outlook Mobile"),
    ("2793995e-0a7d-40d7-bd35-6968ba142197", "My Apps"),
    (
        "291524a3-5e57-4e82-a38d-62f56293190f",
        "Microsoft_Azure_FlowLog_FirstPartyApp",
    ),
    (
        "29d9ed98-a469-4536-ade2-f981bc1d605e",
        "Microsoft Authentication Broker",
    ),
    ("29eb068f-2f54-4fda-a8be-32f37312678a", "Viva Goals Web App"),
    ("2a508b4a-9a5e-45ee-a60a-6380ede07f65", "Microsoft_AAD_ERM"),
    (
        "2ad88395-b77d-4561-9441-d0e40824f9bc",
        "Dynamics 365 Development Tools",
    ),
    ("2b479c68-8d9b-4e27-9d85-5d74803de734", "Virtual Visits App"),
    (
        "2bc50526-cdc3-4e36-a970-c284c34cbd6e",
        "Microsoft Business Office Add-in",
    ),
    (
        "2bc7f11e-e2f4-4a09-b5e0-6988f60a8b0f",
        "Azure Connected Machine Agent",
    ),
    ("2c1229aa-16c5-4ff5-b46b-4f7fe2a2a9c8", "ODBC Client Driver"),
    (
        "2c5c329a-bf00-470c-9416-b6f9e550c3b0",
        "OneLake file explorer",
    ),
    (
        "2c879423-ba8d-42b3-9fb4-a444905905c4",
        "Microsoft_Azure_ActivityLog",
    ),
    ("2caeb7e8-ee9a-4f10-998f-2e7a329b6c49", "Signup Client"),
    (
        "2cfc91a4-7baa-4a8f-a6c9-5f3d279060b8",
        "Azure Application Change Service",
    ),
    ("2d4d3d8e-2be3-4bef-9f87-7875a61c29de", "OneNote"),
    (
        "2ddfbe71-ed12-4123-b99b-d5fc8a062a79",
        "Microsoft Teams Admin Portal Service",
    ),
    (
        "2e246ed0-1ec0-4526-a2de-9e9ff9468494",
        "Microsoft Power Automate SDX Plugin",
    ),
    (
        "2e307cd5-5d2d-4499-b656-a97de9f52708",
        "Modern Workplace Customer API Native",
    ),
    (
        "2e49aa60-1bd3-43b6-8ab6-03ada3d9f08b",
        "Dynamics Data Integration",
    ),
    (
        "2f3b013e-5dc4-4b2a-831f-47ba08353237",
        "Microsoft Dynamics 365 Project Service Automation Add-in for Microsoft Project",
    ),
    ("2f7b4d11-d621-4079-9798-27f548d681f1", "Power Cards"),
    (
        "2fd908ad-0664-4344-b9be-cd3e8b574c38",
        "Microsoft.Data.SqlClient",
    ),
    ("3094c60e-793a-4caf-8a58-0e2e78546847", "VLCentral_Home"),
    (
        "30e8c77f-acd9-453f-958a-82baf329c73d",
        "PowerBI Teams Extension",
    ),
    (
        "3420270d-958d-47dd-b212-d94442460036",
        "Microsoft Payment Central Prod",
    ),
    (
        "344280e9-601d-401c-b634-416276f48e3e",
        "Microsoft_Azure_EdgeGateway",
    ),
    (
        "3686488a-04fc-4d8a-b967-61f98ec41efe",
        "Microsoft Azure KeyVault portal extension",
    ),
    ("36c50012-7aa1-4bff-9ff8-51c75190ae4d", "Trident-Spark-IDE"),
    ("37182072-3c9c-4f6a-a4b3-b3f91cacffce", "AzureSupportCenter"),
    (
        "373aedd7-18be-428f-81e6-8174c02cf6d8",
        "SalesConversationIntelligenceProd",
    ),
    (
        "386ce8c0-7421-48c9-a1df-2a532400339f",
        "Power Automate Desktop For Windows",
    ),
    (
        "38a893b6-d74c-4786-8fe7-bc3b4318e881",
        "Microsoft Flow Portal GCC",
    ),
    (
        "392c0cd5-b73d-42f5-9e94-49904793f11c",
        "Microsoft Virtual Events Portal",
    ),
    (
        "3a4d129e-7f50-4e0d-a7fd-033add0a29f4",
        "Enterprise Dashboard Project",
    ),
    (
        "3aa85724-c5ce-42f5-b7f9-36b5a387b7b4",
        "Windows Admin Center",
    ),
    (
        "3ab9b3bc-762f-4d62-82f7-7e1d653ce29f",
        "Microsoft Volume Licensing",
    ),
    ("3b511579-5e00-46e1-a89e-a6f0870e2f5a", "Windows 365 Portal"),
    (
        "3b68e96c-82d3-41b3-99b8-56c260cf38d8",
        "Managed Home Screen",
    ),
    (
        "3cb0f710-95bd-4d6b-8351-0bbd5b529128",
        "Windows Insider Web  - Dev",
    ),
    (
        "3cbcded7-0049-4401-9e00-5f4f10f75efe",
        "1ES Resource Management",
    ),
    (
        "3cf6df92-2745-4f6f-bbcf-19b59bcdb62a",
        "Office 365 Client Admin",
    ),
    (
        "3d5cffa9-04da-4657-8cab-c7f074657cad",
        "M365 Commerce Client",
    ),
    ("3dd3a51e-8d76-4cca-ac35-5537c1319211", "Windows App - iOS"),
    ("3e050dd7-7815-46a0-8263-b73168a42c10", "Teams Approvals"),
    (
        "3e62f81e-590b-425b-9531-cad6683656cf",
        "PowerApps - apps.powerapps.com",
    ),
    (
        "3f1abb3f-12cc-42c3-ad06-5b608dc5fb67",
        "Microsoft Intune multi-tenant management UX extension",
    ),
    (
        "3ff8e6ba-7dc3-4e9e-ba40-ee12b60d6d48",
        "Microsoft Todo web app",
    ),
    (
        "40999017-9b1e-41ac-a81c-172453d139b7",
        "Dynamics 365 AI for Customer Insights Connector",
    ),
    (
        "417ae6eb-aac8-42c8-900c-0e50debba688",
        "Universal Print Enabled Printer",
    ),
    (
        "41839ce3-4041-4bac-8c17-0941f25d7aaf",
        "Dynamics 365 Business Central Developer",
    ),
    (
        "42aeded7-654f-4021-8573-a861f8c0eb60",
        "Microsoft_Azure_Monitoring_Alerts",
    ),
    (
        "42f00fc9-f5d0-4270-8ff8-d66b2b27d9c7",
        "Microsoft.CodeSigning.PortalExt.PROD",
    ),
    ("4345a7b9-9a63-4910-a426-35363201d503", "O365 Suite UX"),
    ("4353526e-1c33-4fcf-9e82-9683edf52848", "ConfidentialLedger"),
    ("4435c199-c3da-46b9-a61d-76de3f2c9f82", "GitHub Actions API"),
    (
        "4481e210-f747-4590-b65b-37aa6bd1056a",
        "Fidalgo Ibiza Public",
    ),
    (
        "44a02aaa-7145-4925-9dcd-79e6e1b94eff",
        "Microsoft Dynamics 365 Apps Integration",
    ),
    (
        "4536f486-82f7-4cfc-bfcc-6cf40d5ba55a",
        "Azure Quantum Website",
    ),
    (
        "46da2f7e-b5ef-422a-88d4-2a7f9de6a0b2",
        "Dev Tunnels Service",
    ),
    (
        "46e9667d-34e6-43d8-a494-6759b3ae6a5e",
        "Biz Apps Demo Hub Prod",
    ),
    (
        "46ff7383-ea2d-47fe-92a0-e27d7dc2fee9",
        "Microsoft_Azure_Monitoring",
    ),
    (
        "472dd75b-cdf2-42a0-9fec-b86cefca8135",
        "Microsoft Places for Web",
    ),
    ("4765445b-32c6-49b0-83e6-1d93765276ca", "OfficeHome"),
    (
        "477cd9f9-408b-42a1-a47d-30721817f25b",
        "Azure Cognitive Search Portal Extension",
    ),
    (
        "478d8d1a-326f-49da-a58e-8f576faa4b5e",
        "Threat Intelligence Portal",
    ),
    ("47a4f6b2-25dc-4851-8524-fffe7360e8d4", "Surface App"),
    (
        "4813382a-8fa7-425e-ab75-3b753aab3abb",
        "Microsoft Authenticator App",
    ),
    (
        "4906f920-9f94-4f14-98aa-8456dd5f78a8",
        "Dynamics CRM Unified Service Desk",
    ),
    (
        "49676daf-ff23-4aac-adcc-55472d4e2ce0",
        "Power Platform for Admins V2 connector",
    ),
    ("499b84ac-1321-427f-aa17-267ca6975798", "Azure DevOps"),
    ("4b0964e4-58f1-47f4-a552-e2e1fc56dcd7", "FXIrisClient"),
    ("4b84634b-ff80-426f-bdc2-4299b1584916", "Microsoft eCDN"),
    ("4ba4d253-8ed1-42a1-b919-37fad5e5f06e", "Microsoft_AAD_GTM"),
    ("4d079b4c-cab7-4b7c-a115-8fd51b6f8239", "SQL DotNet Client"),
    (
        "4d2f5175-f06b-49e2-9f4a-8e614a8abc03",
        "Microsoft Exchange Hybrid Wizard",
    ),
    (
        "4e09c6ac-4372-45b7-a977-e9f89e673e32",
        "Custom Speech AI Portal",
    ),
    ("4e291c71-d680-4d0e-9640-0a3358e31177", "PowerApps"),
    (
        "4e514f29-41ca-409b-bf52-e774670e54ec",
        "Visual Studio Code for Education",
    ),
    ("4ec7f63c-188f-4433-9253-ccbe3021125f", "IntuneBMR1PApp"),
    (
        "4f18ed62-806c-4424-9576-71c53ea11f49",
        "Marketplace Transact Ext",
    ),
    ("4f547b5f-c3f7-4d2c-a14f-0f8f1286d7d5", "OneDriveLTI"),
    (
        "4f5d63ba-4a86-48e0-89b3-1df09c0dbb82",
        "Microsoft Quantum Azure Portal",
    ),
    (
        "4f71e121-13fa-44c9-a463-dd0fb1c56f17",
        "Microsoft_Azure_SAPManagement",
    ),
    (
        "4f8d3fcc-c1ad-411c-8421-c7a41b65ff5f",
        "Microsoft_Azure_DocumentDB",
    ),
    ("4fb5cc57-dbbc-4cdc-9595-748adff5f414", "Windows 365 Client"),
    ("507a7586-da5c-4e86-80f2-2bc2e55ae394", "Surface Dashboard"),
    (
        "50aaa389-5a33-4f1a-91d7-2c45ecd8dac8",
        "Microsoft_Azure_PIMCommon",
    ),
    (
        "5177bc73-fd99-4c77-a90c-76844c9b6999",
        "Microsoft Remote Desktop Client",
    ),
    (
        "51f81489-12ee-4a9e-aaae-a2591f45987d",
        "Dynamics 365 Example Client Application",
    ),
    (
        "5217e4ff-9fc6-4207-ac4e-d1cb98e21d6e",
        "ContainerInsightsExt 1st Party AAD App",
    ),
    (
        "52c2e0b5-c7b6-4d11-a89c-21e42bcec444",
        "Graph Files Manager",
    ),
    (
        "540d4ff4-b4c0-44c1-bd06-cab1782d582a",
        "ODSP Mobile Lists App",
    ),
    (
        "553a8bc3-7740-43c1-bd40-3112510766f8",
        "Microsoft_Azure_EMA",
    ),
    (
        "55747057-9b5d-4bd4-b387-abf52a8bd489",
        "Azure AD Application Proxy Connector",
    ),
    (
        "55850760-a3b5-4271-8dd2-3cd9c4d05869",
        "Azure Arc UX Client - Public Cloud",
    ),
    (
        "55e09414-9e42-455f-9708-b57bb2783137",
        "GitHub Copilot for Azure in VS Code",
    ),
    ("56233257-15ee-4d3d-bdcd-9aa975244e4c", "Viva Pulse PROD"),
    (
        "57336123-6e14-4acc-8dcf-287b6088aa28",
        "Microsoft Whiteboard Client",
    ),
    (
        "5771b6e6-1c79-4c0f-940f-9d6412d465de",
        "Health Bot Portal V4",
    ),
    (
        "579a7132-0e58-4d80-b1e1-7a1e2d337859",
        "Azure Storage AzCopy",
    ),
    (
        "57da3f69-2d82-4c17-9e57-2e6d78b2dc60",
        "O365 Diagnostic Service",
    ),
    (
        "57f352fe-8f23-4781-8bae-1bbde5e1d8fd",
        "CreateUiDef graph access",
    ),
    (
        "57fb890c-0dab-4253-a5e0-7188c88b2bb4",
        "SharePoint Online Client",
    ),
    (
        "57fcbcfa-7cee-4eb1-8b25-12d2030b4ee0",
        "Microsoft Flow Mobile PROD-GCCH-CN",
    ),
    (
        "5801fbf1-8df2-4c3c-a65c-e230edf60ca2",
        "Microsoft Remote Connectivity Analyzer",
    ),
    (
        "582b2e88-6cca-4418-83d2-2451801e1d26",
        "Sip Gateway UserApp",
    ),
    (
        "58c746b0-a0b0-4647-a8f6-12dde5981638",
        "Azure AD Identity Governance Insights",
    ),
    (
        "5926fc8e-304e-4f59-8bed-58ca97cc39a4",
        "Microsoft Intune portal extension",
    ),
    ("598ab7bb-a59c-4d31-ba84-ded22c220dbd", "Designer App"),
    ("59f0a04a-b322-4310-adc9-39ac41e9631e", "Azure SRE Agent"),
    (
        "5a287bbb-2eb6-45e4-b133-8030c415e7fb",
        "Microsoft_Azure_DiskMgmt",
    ),
    (
        "5a6fd92b-8a2c-41d2-b3bb-98d35d258d9e",
        "Azure Portal Fx Copilot Web",
    ),
    (
        "5a9cece4-4e66-4a74-9286-da0f62578dd8",
        "Engagement Insights",
    ),
    ("5b0b1829-551e-44c8-ab85-e37f2437eb63", "Capri"),
    (
        "5c17a0cf-5493-4b86-b23d-dabc1cc46f5a",
        "Minit Desktop for Windows",
    ),
    (
        "5c29b96a-51e0-40c1-b348-fbfebbe0e86c",
        "Power BI Datasets Excel Add-In",
    ),
    ("5c6236d6-d06b-44f2-be02-e26864ac8db2", "Excel Copilot"),
    ("5d661950-3475-41cd-a2c3-d671a3162bc1", "Microsoft Outlook"),
    (
        "5e3ce6c0-2b1f-4285-8d4b-75ee78787346",
        "Microsoft Teams Web Client",
    ),
    (
        "5eb6d742-390a-4eb3-b862-21d0166c54cf",
        "M365 Dev Portals - Authentication flow",
    ),
    (
        "5f00fd34-f302-417f-81ef-1adda179d8fd",
        "Microsoft Forms Web",
    ),
    (
        "5ff93dd1-505d-4ab5-8e70-a7c23143b3a9",
        "Sticky Notes Web App",
    ),
    (
        "60216f25-dbae-452b-83ae-6224158ce95e",
        "Microsoft Dynamics CRM App for Outlook",
    ),
    (
        "60b2e7d5-a27f-426d-a6b1-acced0846fdf",
        "Microsoft Azure IPAM",
    ),
    (
        "60c8bde5-3167-4f92-8fdb-059f6176dc0f",
        "Enterprise Roaming and Backup",
    ),
    (
        "60dd25e4-9d08-44fa-9b18-280cff19b15b",
        "Surface Hub and Microsoft Teams Room Device Management",
    ),
    (
        "60f38cf4-a0bf-4fdf-b0b5-14d3131bc031",
        "make.test.powerapps.com",
    ),
    (
        "618dd325-23f6-4b6f-8380-4df78026e39b",
        "Microsoft 365 Admin portal",
    ),
    (
        "61ae9cd9-7bca-458c-affc-861e2f24ba3b",
        "Windows Update for Business Deployment Service",
    ),
    ("61c8fd69-c13e-4ee6-aaa6-24ff71c09bca", "Teams SIP Gateway"),
    (
        "61ccfc51-60d1-470a-9dca-f78fcf640d23",
        "Microsoft Service Copilot",
    ),
    (
        "61e987ea-ea8c-4843-903e-1b58e57b7ab1",
        "Microsoft Defender for APIs UI",
    ),
    (
        "6204c1d1-4712-4c46-a7d9-3ed63d992682",
        "Microsoft Flow Portal",
    ),
    (
        "6253bca8-faf2-4587-8f2f-b056d80998a7",
        "Microsoft Edge Addons Prod",
    ),
    (
        "631d36ba-ddbd-4e88-807a-b8cd54f9b390",
        "Microsoft_Azure_Billing",
    ),
    (
        "632ec9eb-fad7-4cbd-993a-e72973ba2acc",
        "Spool-Resource-Provider",
    ),
    (
        "6388acc4-795e-43a9-a320-33075c1eb83b",
        "Azure Orbital Spatio",
    ),
    (
        "63896e48-3d27-4ce2-9968-610b4af62c5d",
        "Windows App - macOS",
    ),
    (
        "6545d193-7fc3-408f-9d0b-44564575cd25",
        "LandRIncentive Partner Portal SPA PROD",
    ),
    (
        "655db33f-4580-4e63-bad1-4618764badb9",
        "Dynamics 365 Guides",
    ),
    ("66375f6b-983f-4c2c-9701-d680650f588f", "Microsoft Planner"),
    (
        "66f1e791-7bfb-4e18-aed8-1720056421c7",
        "Microsoft Azure Stream Analytics",
    ),
    (
        "67ae0dc4-5f97-4c38-b132-65d38bbab8d1",
        "Dynamics AX Workflow Editor",
    ),
    ("67ccd9d7-f5c7-475c-9da0-9700c24b2e66", "IoT Explorer App"),
    (
        "68282534-2e2f-45fa-a8ed-898bce6ba449",
        "Microsoft Azure Analysis Services",
    ),
    (
        "691458b9-1327-4635-9f55-ed83a7f1b41c",
        "Microsoft_Azure_Storage",
    ),
    ("69893ee3-dd10-4b1c-832d-4870354be3d8", "AEM-DualAuth"),
    (
        "69cc3193-b6c4-4172-98e5-ed0f38ab3ff8",
        "Windows 365 Ibiza Extension",
    ),
    (
        "69cfcf0a-625d-409f-b381-8f036e2773b3",
        "Azure_Digital_Twins",
    ),
    (
        "6a8b4b39-c021-437c-b060-5a14a3fd65f3",
        "Verifiable Credentials Service Admin",
    ),
    ("6af07558-09e0-40fd-8af6-7759d010cf82", "HDIUX_APP"),
    (
        "6afb4e1e-9ffa-4a21-8f59-c3ee04301388",
        "Cloud Data Store Client",
    ),
    (
        "6b11041d-54a2-4c4f-96a2-6053efe46d8b",
        "HoloLens Camera Roll Upload",
    ),
    ("6ba358df-b33d-4bfe-a7b7-fe139acebe7b", "EASM PORTAL"),
    (
        "6c7e8096-f593-4d72-807f-a5f86dcc9c77",
        "Intune Applications",
    ),
    (
        "6d057c82-a784-47ae-8d12-ca7b38cf06b4",
        "AzureVirtualNetworkManager",
    ),
    (
        "6d8f24e8-a97e-4bb5-bbee-a1949aba8fb4",
        "OfficeAIAppChatCopilot",
    ),
    ("6dd7a050-74b5-4817-b5ba-fd9aad636ad7", "PROD-FDA"),
    (
        "6e00b31f-06d4-4c93-8b14-e08b568b4a04",
        "Microsoft_OperationsManagementSuite_Workspace",
    ),
    (
        "6ee392c4-d339-4083-b04d-6b7947c6cf78",
        "Azure Device Update",
    ),
    (
        "6f0478d5-61a3-4897-a2f2-de09a5a90c7f",
        "WindowsUpdate-Service",
    ),
    (
        "6f459c5d-d670-409b-83a6-68b040f4cb78",
        "Customer Experience Platform FRE PROD",
    ),
    (
        "6f7e0f60-9401-4f5b-98e2-cf15bd5fd5e3",
        "Microsoft Application Command Service",
    ),
    (
        "701860c7-4ffa-4813-b18d-0c0af02faed7",
        "Liftr-AN-FPA-Portal-AME",
    ),
    (
        "706247ff-cdd6-4957-8377-c65e91c8d532",
        "Universal Print Mac Client",
    ),
    (
        "71a7c376-13e6-4100-968e-92ce98c5d3d2",
        "Microsoft Viva Insights",
    ),
    (
        "721b7c62-eec0-4d88-9b77-5e7c15e210a8",
        "Microsoft_AAD_DomainServices",
    ),
    (
        "73a510c3-9946-46dd-b5ae-a8f0ae68fd04",
        "Azure API Management Portal extension",
    ),
    (
        "74374a04-182f-444f-9dad-3978d27aad44",
        "O365 Network Onboarding Tool",
    ),
    ("74658136-14ec-4630-ad9b-26e160ff0fc6", "ADIbizaUX"),
    (
        "756bccdc-1c1e-4556-b7a4-fe6eafe61d35",
        "Azure Linux VM Sign-In",
    ),
    (
        "75eb2b80-011a-4693-9a47-7971c853603c",
        "make.powerpages.microsoft.com",
    ),
    (
        "75f31797-37c9-498e-8dc9-53c16a36afca",
        "Microsoft Planner Client",
    ),
    (
        "760282b4-0cfc-4952-b467-c8e0298fee16",
        "ZTNA Network Access Client -- Private",
    ),
    ("7655d621-3c86-4a9a-92f8-47244f293b55", "Microsoft_Entra_PM"),
    (
        "76c92352-c057-4cc2-9b1e-f34c32bc58bd",
        "Azure Container Registry Application",
    ),
    (
        "7b32d65b-837b-4365-931e-3c87e8a860aa",
        "Microsoft_AAD_LifecycleManagement",
    ),
    ("7b7f48f0-62d0-4183-b9ad-c2b6b4fd7aff", "Security Copilot"),
    (
        "7c0d6b85-a577-4d00-8fcb-f583c0d8286c",
        "ComplianceCenterAAD",
    ),
    ("7c209960-a417-423c-b2e3-9251907e63fe", "Azure Sphere API"),
    (
        "7c4f9118-450a-4e75-b96b-df2d0cac4c0d",
        "d365-dani-exceladdinprod",
    ),
    (
        "7dd7250c-c317-4bc6-8528-8d27b02707ef",
        "ZTNA Data Acquisition - PROD",
    ),
    ("7ea7c24c-b1f6-4a20-9d11-9ae12e9e7ac0", "Teams-Toolkit"),
    (
        "7eadcef8-456d-4611-9480-4fff72b8b9e2",
        "Microsoft Account Controls V2",
    ),
    (
        "7ec03bdb-0e14-495d-9f6c-c0fd4bf2cff0",
        "Microsoft Graph Data Connect - Azure Portal",
    ),
    ("7f5a85eb-674c-4dee-8c57-1544c5769cfb", "E2-PMW-Production"),
    ("7f67af8a-fedc-4b08-8b4e-37c4d127b6cf", "Power BI Desktop"),
    (
        "7f7ba5f2-edd7-4b6c-af4c-f48dfb5beec5",
        "Identity Protection UX",
    ),
    ("7f8f922d-7ee4-40a6-b435-aad8b84ebde0", "Org Explorer"),
    ("7f98cb04-cd1e-40df-9140-3bf7e2cea4db", "JDBC Client Driver"),
    (
        "7fba38f4-ec1f-458d-906c-f4e3c4f41335",
        "Sticky Notes Client",
    ),
    (
        "801546d2-55cc-4ff4-b66d-134b1208deb5",
        "Azure Commercial Services Tool - CST",
    ),
    (
        "80331ee5-4436-4815-883e-93bc833a9a15",
        "Universal Print Connector",
    ),
    (
        "80ccca67-54bd-44ab-8625-4b79c4dc7775",
        "Microsoft 365 Security and Compliance Center",
    ),
    (
        "80ee910d-3412-4991-aa65-1380520e5ff9",
        "Liftr-DT-FPA-PRT-AME",
    ),
    (
        "80faf920-1908-4b52-b5ef-a8e7bedfc67a",
        "Azure Kubernetes Service AAD Client",
    ),
    (
        "810dcf14-1858-4bf2-8134-4c369fa3235b",
        "Azure AD Identity Governance - Entitlement Management",
    ),
    ("81feaced-5ddd-41e7-8bef-3e20a2689bb7", "AMC PROD"),
    (
        "82864fa0-ed49-4711-8395-a0e6003dca1f",
        "Microsoft Edge MSAv2",
    ),
    (
        "82afb2e3-126a-42ce-a39c-b2734e769a69",
        "Microsoft_Azure_PinToGrafana",
    ),
    (
        "835b2a73-6e10-4aa5-a979-21dfda45231c",
        "Azure Lab Services Portal",
    ),
    (
        "844cca35-0656-46ce-b636-13f48b0eecbd",
        "Microsoft Stream Mobile Native",
    ),
    (
        "8476fe4e-65c4-449b-b8be-98bad6ab3ea3",
        "Microsoft_Azure_SupportChat",
    ),
    (
        "84a0e9dd-6e58-4aad-82af-ebe485acd09d",
        "Hubble Media Service",
    ),
    ("871c010f-5e61-4fb1-83ac-98610a7e9110", "Microsoft Power BI"),
    (
        "87223343-80b1-4097-be13-2332ffa1d666",
        "Outlook Web App Widgets",
    ),
    (
        "872cd9fa-d31f-45e0-9eab-6e460a02d1f1",
        "Visual Studio - Legacy",
    ),
    (
        "87749df4-7ccf-48f8-aa87-704bad0e0e16",
        "Microsoft Teams - Device Admin Agent",
    ),
    (
        "89141436-bde0-4a2c-ad51-ebb3163e3e58",
        "Azure Managed HSM Portal Extension",
    ),
    (
        "89bee1f7-5e6e-4d8a-9f3d-ecd601259da7",
        "Office365 Shell WCSS-Client",
    ),
    ("8c59ead7-d703-4a27-9e55-c96a0054c8d2", "My Profile"),
    (
        "8ec6bc83-69c8-4392-8f08-b3c986009232",
        "Microsoft Teams-T4L",
    ),
    (
        "8f10c021-391a-4dfa-894c-cca96be320f7",
        "Microsoft Azure SQL",
    ),
    ("905fcf26-4eb7-48a0-9ff0-8dcc7194b5ba", "Sway"),
    (
        "90c17bc4-8398-44d4-9b47-89ed4ea32d25",
        "Microsoft_Print_Extension",
    ),
    (
        "90f610bf-206d-4950-b61d-37fa6fd1b224",
        "Aadrm Admin Powershell",
    ),
    ("9199bf20-a13f-4107-85dc-02114787ef48", "One Outlook Web"),
    (
        "929cb005-cba1-40c4-a962-ef441029cb6c",
        "make.gov.powerpages.microsoft.us",
    ),
    (
        "929d0ec0-7a41-4b1e-bc7c-b754a28bddcc",
        "Power BI Dataset Remote Connection",
    ),
    (
        "929f5cb7-09b3-49e5-9ef6-5e7febdfa52e",
        "MS Invoice Central Modern Client",
    ),
    (
        "92ff45f0-dfb0-4078-804a-6cf3e52a3d8c",
        "Microsoft Azure DataLake portal extension",
    ),
    (
        "9315aedd-209b-43b3-b149-2abff6a95d59",
        "Power Virtual Agents US Gov GCC",
    ),
    (
        "93d53678-613d-4013-afc1-62e9e444a0a5",
        "Office Online Add-in SSO",
    ),
    ("9581bc0e-c952-4fd3-8d99-e777877718b1", "Azure Singularity"),
    (
        "959678cf-d004-4c22-82a6-d2ce549a58b8",
        "Microsoft_Azure_Support",
    ),
    (
        "95a5d94c-a1a0-40eb-ac6d-48c5bdee96d5",
        "Micorsoft Azure AppInsightsExtension",
    ),
    (
        "95de633a-083e-42f5-b444-a4295d8e9314",
        "Microsoft Whiteboard Services",
    ),
    (
        "962225de-d127-40d7-ae7e-7beaa246ee3a",
        "Microsoft_Azure_Security",
    ),
    (
        "96eecda7-19ea-49cc-abb5-240097d554f5",
        "Databricks SQL Connector",
    ),
    (
        "96ff4394-9197-43aa-b393-6a41652e21f8",
        "Power Virtual Agents",
    ),
    ("97877f11-0fc6-4aee-b1ff-febb0519dd00", "Azure DevOps"),
    (
        "9806d7c7-0754-4529-8da2-4bc6de638ce4",
        "MS Form Excel Data Sync for SDX",
    ),
    ("982bda36-4632-4165-a46a-9863b1bbcf7d", "O365 Demeter"),
    (
        "996def3d-b36c-4153-8607-a6fd3c01b89f",
        "Dynamics 365 Business Central",
    ),
    (
        "9ba1a5c7-f17a-4de9-a1f1-6178c8d51223",
        "Microsoft Intune Company Portal",
    ),
    (
        "9bc3ab49-b65d-410a-85ad-de819febfddc",
        "Microsoft SharePoint Online Management Shell",
    ),
    (
        "9bd5ab7f-4031-4045-ace9-6bebbad202f6",
        "Microsoft Visual Studio Services API",
    ),
    (
        "9cdead84-a844-4324-93f2-b2e6bb768d07",
        "Azure Virtual Desktop",
    ),
    (
        "9cee029c-6210-4654-90bb-17e6e9d36617",
        "Power Platform CLI - pac",
    ),
    (
        "9d827643-d003-4cca-9dc8-71213a8f1644",
        "Workplace Analytics",
    ),
    ("9ea1ad79-fdb6-4f9a-8bc3-2b70f96e34c7", "Bing"),
    ("9ed4cd8c-9a98-405f-966b-38ab1b0c24a3", "Microsoft Services"),
    (
        "9ee7b58d-f9db-45bc-ad7b-c2b97bbc3337",
        "Defender Experts for XDR",
    ),
    (
        "a03453e2-fed9-4e6a-8566-f141028d83e6",
        "Microsoft_Azure_DataShare",
    ),
    (
        "a0e1e353-1a3e-42cf-a8ea-3a9746eec58c",
        "Microsoft AppSource",
    ),
    (
        "a0fe4328-8965-437b-a350-cf71409d002f",
        "Cloud for Nonprofit Installer",
    ),
    ("a187e399-0c36-4b98-8f04-1edc167a0996", "Microsoft Loop App"),
    (
        "a22a97f2-4a9a-41f9-9093-a747c912f4d7",
        "Prod M365FLWPManagementService Prod",
    ),
    ("a2a1fecc-b06e-4a1e-95c1-2afd94bcadff", "Microsoft People"),
    ("a306baf0-5ad8-4f6f-babf-6a286b0142ba", "Azure Data Factory"),
    (
        "a3bda2b7-dead-402f-8a9f-13b8ce878dc1",
        "DevTest Labs Portal",
    ),
    (
        "a40d7d7d-59aa-447e-a655-679a4107e548",
        "Accounts Control UI",
    ),
    (
        "a522f059-bb65-47c0-8934-7db6e5286414",
        "Copilot Studio - Dogfood",
    ),
    ("a569458c-7f2b-45cb-bab9-b7dee514d112", "Yammer iPhone"),
    ("a57aca87-cbc0-4f3c-8b9e-dc095fdc8978", "IAM Supportability"),
    (
        "a634a778-2379-4632-92cd-6d66540ddca4",
        "Microsoft_Azure_CtsExtension",
    ),
    (
        "a670efe7-64b6-454f-9ae9-4f1cf27aba58",
        "Microsoft Lists App on Android",
    ),
    (
        "a672d62c-fc7b-4e81-a576-e60dc46e951d",
        "Microsoft Power Query for Excel",
    ),
    (
        "a6943a7f-5ba0-4a34-bf91-ab439efdda3f",
        "Azure HDInsight on AKS Client",
    ),
    ("a69788c6-1d43-44ed-9ca3-b83e194da255", "Azure Data Studio"),
    (
        "a7d8b517-ace2-4c65-b0b7-38f9a2a8e9d8",
        "Centralized Deployment PowerShell Tools",
    ),
    (
        "a81833f1-fd18-490b-8598-60cd7b6b0382",
        "PowerApps - apps.gov.powerapps.us",
    ),
    (
        "a85cf173-4192-42f8-81fa-777a763e6e2c",
        "Azure Virtual Desktop Client",
    ),
    (
        "a8759234-4b8b-4d94-8c0a-ee1ab73af270",
        "WindowsShareExperienceProd",
    ),
    (
        "a8adde6c-aeb4-4fd6-9d8f-c2dfdecac60a",
        "Dynamics 365 collaboration with Microsoft Teams",
    ),
    ("a8f7a65c-f5ba-4859-b2d6-df772c264e9d", "make.powerapps.com"),
    (
        "a941dc67-8fed-413a-bd6c-78b97250b257",
        "Azure Service Linker Extension",
    ),
    (
        "a94f9c62-97fe-4d19-b06d-472bed8d2bcf",
        "Azure SQL Database and Data Warehouse",
    ),
    (
        "a99783bc-5466-4cef-82eb-ebf285d77131",
        "Common Job Provider",
    ),
    (
        "aa580612-c342-4ace-9055-8edee43ccb89",
        "Microsoft Teams Shifts",
    ),
    (
        "aaa651fc-734c-48a1-8c37-ad1724b2088c",
        "Microsoft Nonprofit Portal",
    ),
    (
        "aad98258-6bb0-44ed-a095-21506dfb68fe",
        "Universal Print PS Module",
    ),
    (
        "ab9b8c07-8f02-4f72-87fa-80105867a763",
        "OneDrive SyncEngine",
    ),
    (
        "aba285d5-d9f3-427b-a994-e9deb4567639",
        "Microsoft SQL Server",
    ),
    (
        "abba844e-bc0e-44b0-947a-dc74e5d09022",
        "Domain Controller Services",
    ),
    (
        "ac212b6d-5417-46fc-a74a-bd8f1ccf3501",
        "Microsoft_Azure_FileStorage",
    ),
    (
        "aced0c89-3b79-49ab-b2f1-27b67d3f0054",
        "CPIM Portal Extension Application",
    ),
    ("aebc6443-996d-45c2-90f0-388ff96faa56", "Visual Studio Code"),
    ("af124e86-4e96-495a-b70a-90f90ab96707", "OneDrive iOS App"),
    (
        "b1d0e860-2368-4a20-97bb-067f0fb302d4",
        "Microsoft Azure AttestationExtension",
    ),
    (
        "b20d0d3a-dc90-485b-ad11-6031e769e221",
        "SalesInsightsWebApp",
    ),
    ("b26aadf8-566f-4478-926f-589f601d9c74", "OneDrive"),
    (
        "b312d4d5-a2c0-4480-b588-a5024677eb5c",
        "M365 Compliance Assessment Toolkit",
    ),
    ("b4bddae8-ab25-483e-8670-df09b9f1d0ea", "Signup"),
    (
        "b4c79f90-05ef-4edb-a980-de88f6952049",
        "ApplicationGatewayV1ToV2CloningPortalClient",
    ),
    (
        "b52fa633-d1c6-4449-98f2-cdab2456e94a",
        "AzureDefenderForDataApp",
    ),
    (
        "b675d171-daad-4ba1-813b-4792504ae6e2",
        "Microsoft Azure Databricks portal extension",
    ),
    (
        "b677c290-cf4b-4a8e-a60e-91ba650a4abe",
        "AzurePortal Console App",
    ),
    (
        "b743a22d-6705-4147-8670-d92fa515ee2b",
        "Microsoft Intune Company Portal for Linux",
    ),
    ("b87b6fc6-536c-411d-9005-110ee6db77dc", "Yammer iPad"),
    ("b910b879-6c07-48aa-9cfd-d1916f62130d", "Viva Learning Web"),
    (
        "b97b6bd4-a49f-4a0c-af18-af507d1da76c",
        "Office Shredding Service",
    ),
    ("b998f6f8-79d0-4b6a-8c25-5791dbe49ad0", "ExP Studio"),
    (
        "b9a50111-7110-459d-bc13-534691bd5b7b",
        "GitHub Actions API - Dev",
    ),
    ("ba9ff945-a723-4ab5-a977-bd8c9044fe61", "My Staff"),
    (
        "bad22d78-f2ba-40cb-9218-665a00dcab72",
        "Managed Labs Ibiza PROD",
    ),
    ("bb2a2e3a-c5e7-4f0a-88e0-8e01fd3fc1f4", "CPIM Service"),
    (
        "bb301b1f-c8f3-473a-9ff5-7ad970c639c2",
        "Azure Analysis Services User Picker",
    ),
    (
        "bb5ffd56-39eb-458c-a53a-775ba21277da",
        "Security Copilot Portal",
    ),
    (
        "bb8f18b0-9c38-48c9-a847-e1ef3af0602d",
        "Microsoft.Azure.ActiveDirectoryIUX",
    ),
    (
        "bc59ab01-8403-45c6-8796-ac3ef710b3e3",
        "Outlook Online Add-in App",
    ),
    (
        "bda0771f-b6df-474a-b348-26a308db88aa",
        "Microsoft_Azure_Security_Insights",
    ),
    (
        "be1918be-3fe3-4be9-b32b-b542fc27f02e",
        "M365 Compliance Drive Client",
    ),
    ("bed12bc0-3a62-470d-998c-e47546e7b039", "NucleusDesktop"),
    (
        "bf04bdab-e06f-44f3-9821-d3af64fc93a9",
        "Dynamics 365 Fraud Protection",
    ),
    (
        "bf61aded-9a54-4603-be22-84d20158607b",
        "Microsoft Teams Platform Monetization",
    ),
    (
        "c00e9d32-3c8d-4a7d-832b-029040e7db99",
        "Microsoft Azure Information Protection",
    ),
    ("c0ab8ce9-e9a0-42e7-b064-33d422df41f1", "M365ChatClient"),
    ("c0d2a505-13b8-4ae0-aa9e-cddd5eab0b12", "Microsoft Power BI"),
    ("c1c74fed-04c9-4704-80dc-9f79a2e515cb", "Yammer Web"),
    (
        "c26d35f8-e7e9-4a67-9180-d9f50d5e981c",
        "Office Online Loop integration SSO",
    ),
    ("c39c9bac-9d1f-4dfb-aa29-27f6365e5cb7", "Azure Advisor"),
    (
        "c40dfea8-483f-469b-aafe-642149115b3a",
        "Microsoft_AAD_Devices",
    ),
    ("c44b4083-3bb0-49c1-b47d-974e53cbdf3c", "Azure Portal"),
    ("c475db56-f463-48d8-931a-cfa7cd642289", "Feedback Portal UX"),
    ("c4fe64aa-7e1f-4995-bfb8-107e8ef9bbe3", "ScanXManagement"),
    (
        "c5386751-be6d-4c64-b7f3-3a393514e87a",
        "OneNote Class Notebook Add-in",
    ),
    (
        "c556d48a-da18-409b-817d-064fa2fcf2a0",
        "Microsoft_Azure_Policy",
    ),
    (
        "c56f381d-fc23-4d17-98a9-75fdd5a3a114",
        "Microsoft.Azure.ManagedIdentities.UX",
    ),
    (
        "c58637bb-e2e1-4312-8a00-04b5ffcd3403",
        "SharePoint Online Client Extensibility",
    ),
    (
        "c5eb93c5-ea21-48c2-a137-4a7641c61bc8",
        "Microsoft_Azure_WorkloadInsights",
    ),
    (
        "c61d67cf-295a-462c-972f-33af37008751",
        "Call Quality Dashboard",
    ),
    ("c632b3df-fb67-4d84-bdcf-b95ad541b5c8", "Azure VPN"),
    ("c7bb12bf-0b39-4f7f-9171-f418ff39b76a", "Azure Lab Services"),
    ("c8423563-e8f6-49f2-924b-90d9f664378a", "Viva Goals"),
    (
        "c84a0f23-a0f8-4e8e-918b-57db620d110a",
        "Power Platform Admin Center Client Test",
    ),
    (
        "c98e5057-edde-4666-b301-186a01b4dc58",
        "MicrosoftEndpointDLP",
    ),
    ("c9a559d2-7aab-4f13-a6ed-e7e9c52aec87", "Microsoft Forms"),
    (
        "ca01d00c-bfd6-46d6-ae7d-be5b5267d037",
        "ZTNA Policy Service Client",
    ),
    (
        "cab96880-db5b-4e15-90a7-f3f1d62ffe39",
        "Microsoft Defender Platform",
    ),
    (
        "cb1056e2-e479-49de-ae31-7812af012ed8",
        "Microsoft Azure Active Directory Connect",
    ),
    (
        "cb2ff863-7f30-4ced-ab89-a00194bcf6d9",
        "Azure AI Studio App",
    ),
    ("cb5b7de5-2ef8-4fb2-9600-9feadb91dc45", "Microsoft Launcher"),
    (
        "cbf8c392-4ffb-4d85-9d4a-f7678d381a1f",
        "Windows App - Android",
    ),
    (
        "cd39c5ca-1d6a-44a4-bf0d-8fbb623a6666",
        "Microsoft_Azure_Dashboard",
    ),
    (
        "cdad765c-f191-43ba-b9f5-7aef392f811d",
        "Azure SignalR Service Resource Provider",
    ),
    (
        "cde6adac-58fd-4b78-8d6d-9beaf1b0d668",
        "Global Secure Access Client",
    ),
    (
        "ce178962-7dfd-402b-a9f6-07a84a648539",
        "Cognitive Services Content Moderator",
    ),
    (
        "ce48853e-0605-4f77-8746-d70ac63cc6bc",
        "Bot Framework Composer",
    ),
    (
        "ce9f9f18-dd0c-473e-b9b2-47812435e20d",
        "Microsoft Dynamics CRM for tablets and phones",
    ),
    (
        "cf36b471-5b44-428c-9ce7-313bf84528de",
        "Microsoft Bing Search",
    ),
    (
        "cf53fce8-def6-4aeb-8d30-b158e7b1cf83",
        "Microsoft Stream Portal",
    ),
    (
        "cf6d7e68-f018-4e0a-a7b3-126e053fb88d",
        "Azure AD Connect Health Agent",
    ),
    (
        "cf710c6e-dfcc-4fa8-a093-d47294e44c66",
        "Azure Analysis Services Client",
    ),
    (
        "cf8f0657-7610-4b05-8723-a4322ae045c6",
        "Microsoft Dynamics Document Routing Agent",
    ),
    (
        "d2eb9fef-f34c-40ec-b6a3-4bf524065158",
        "Office voice transcript generator AAD",
    ),
    ("d326c1ce-6cc6-4de2-bebc-4591e5e13ef0", "SharePoint"),
    (
        "d32c68ad-72d2-4acb-a0c7-46bb2cf93873",
        "Microsoft Activity Feed Service",
    ),
    ("d3590ed6-52b3-4102-aeff-aad2292ab01c", "Microsoft Office"),
    ("d3ee6f25-becc-4659-9bc6-bbe6af7d18e6", "OneLTI"),
    (
        "d48cb907-3a0f-481e-a0d1-41097337a938",
        "EAPortals-AAD-PROD-PME",
    ),
    (
        "d5097d05-956f-4ae2-b6a2-eff25f5689b3",
        "Windows Update for Business Cloud Extensions PowerShell",
    ),
    (
        "d5527362-3bc8-4e63-b5b3-606dc14747e9",
        "Dynamics Retail Cloud POS",
    ),
    ("d5a56ea4-7369-46b8-a538-c370805301bf", "Azure Artifacts"),
    (
        "d5e23a82-d7e1-4886-af25-27037a0fdc2a",
        "ZTNA Network Access Client -- M365",
    ),
    ("d66e9e8e-53a4-420c-866d-5bb39aaea675", "networkcopilotRP"),
    (
        "d6b5a0bd-bf3f-4a8c-b370-619fb3d0e1cc",
        "Dynamics Retail Modern POS",
    ),
    (
        "d7304df8-741f-47d3-9bc2-df0e24e2071f",
        "Azure Machine Learning Workbench Web App",
    ),
    (
        "d7813711-9094-4ad3-a062-cac3ec74ebe8",
        "Microsoft.Azure.Services.AppAuthentication",
    ),
    (
        "d7b530a4-7680-4c23-a8bf-c52c121d2e87",
        "Microsoft Edge Enterprise New Tab Page",
    ),
    (
        "d9ce8cfa-8bd8-4ff1-b39b-5e5dd5742935",
        "Omnichannel for CS CRM ClientApp Primary",
    ),
    ("da7b2a48-99e4-4e2b-a492-06d19a39ca57", "XSync Server Agent"),
    (
        "dad37da6-229d-4bc0-8b94-fee8600589db",
        "Zero Trust Segmentation",
    ),
    (
        "dae89220-69ba-4957-a77a-47b78695e883",
        "Universal Print Native Client",
    ),
    (
        "db465503-d247-463e-8a13-95889346b742",
        "OLEDB Client Driver",
    ),
    ("db662dc1-0cfe-4e1c-a843-19a68e65be58", "KustoClient"),
    (
        "dc807dec-d211-4b3f-bc8a-43b3443c4874",
        "Azure OpenAI Studio",
    ),
    (
        "dcceb79b-67c2-4b15-a03e-2299d8b413bb",
        "Microsoft_Azure_Linux",
    ),
    (
        "dd34f6e5-71d9-4a89-95bb-75e237d6ae71",
        "Event Hub Portal App",
    ),
    (
        "dd47d17a-3194-4d86-bfd5-c6ae6f5651e3",
        "Microsoft Defender for Mobile",
    ),
    (
        "dd762716-544d-4aeb-a526-687b73838a22",
        "Microsoft Device Registration Client",
    ),
    (
        "de50c81f-5f80-4771-b66b-cebd28ccdfc1",
        "Device Management Client",
    ),
    ("e00d2f8a-f6c8-46e4-b379-e66082e28ca8", "Azure ExP"),
    (
        "e036f41b-7edf-47ee-b373-b4b374a2e33c",
        "Modern Workplace App Diagnostic Authenticator",
    ),
    (
        "e0497406-d33e-45d9-82be-371739e437a9",
        "Microsoft_AzureStackHCI_PortalExtension",
    ),
    (
        "e1979c22-8b73-4aed-a4da-572cc4d0b832",
        "App Studio for Microsoft Teams",
    ),
    ("e1ef36fd-b883-4dbf-97f0-9ece4b576fc6", "Yammer Web Embed"),
    (
        "e28ff72c-58a5-49ba-8125-42ec264d7cd0",
        "Office Browser Extension",
    ),
    (
        "e2ef5054-0287-4db6-afa3-013d96881fd3",
        "Microsoft OneDrive desktop sync client",
    ),
    (
        "e4712ded-3c3d-47d4-b800-91eea97808aa",
        "Sophia Platform Service",
    ),
    (
        "e4d7e78b-c114-46b9-9880-29f5b1cf4a90",
        "Microsoft_Azure_Kailani",
    ),
    (
        "e526e72f-ffae-44a0-8dac-cf14b8bd40e2",
        "Fidalgo Dataplane Public",
    ),
    (
        "e68ae87f-5acd-403b-a8f5-40a0dd42f6b5",
        "Dynamics 365 Business Central Mobile Client",
    ),
    ("e6c2449c-aafc-4709-a7a6-6a019e4b5377", "ExportOnline1stApp"),
    (
        "e6ce1a54-4f33-4fdc-a782-6c14e4095474",
        "Microsoft_Azure_WorkloadMonitor",
    ),
    ("e6d9c1d6-72d0-4722-92b2-85d61ff9a464", "Reflex - Public"),
    (
        "e8caf904-b6ac-4b01-85f6-b0d8e15e58a6",
        "Azure Data Factory Ibiza Extension",
    ),
    ("e9b154d0-7658-433b-bb25-6b8e0a8a7c59", "Outlook Lite"),
    (
        "e9c19b55-5325-4cf3-a268-e380bc74c907",
        "Microsoft_EMM_ModernWorkplace",
    ),
    ("e9c51622-460d-4d3d-952d-966a5b1da34c", "Microsoft Edge"),
    ("e9cee14e-f26a-4349-886f-10048e3ef4b8", "Yammer Android"),
    ("e9f49c6b-5ce5-44c8-925d-015017e9f7ad", "Azure Data Lake"),
    ("ea0616ba-638b-4df5-95b9-636659ae5121", "Power BI Gateway"),
    ("ea62c1c6-550b-4238-8ea7-c55a85d86be8", "Teams Work Report"),
    ("ea82ed9a-5efb-4911-877e-ef6896bf3586", "Viva Glint"),
    ("ea8d014c-04e7-450c-a600-eaa309e42309", "ZTNA UX Portal"),
    (
        "eb20f3e3-3dce-4d2c-b721-ebb8d4414067",
        "Managed Meeting Rooms",
    ),
    ("ebde7daf-df42-4ade-81a4-d67b339b49e9", "Windows Clock"),
    (
        "ec52d13d-2e85-410e-a89a-8c79fb6a32ac",
        "Azure Synapse Studio",
    ),
    ("ecd6b820-32c2-49b6-98a6-444530e5a77a", "Microsoft Edge"),
    (
        "ed5bac54-b6be-4d16-9e6d-63d177fa3bf7",
        "Teams Managed Service Surface Hub Agent",
    ),
    (
        "ee90a17f-1cb7-4909-be27-dfc2dcc4dc15",
        "Power Automate Desktop",
    ),
    ("eea619ad-603a-4b03-a386-860fcc7410d1", "Microsoft Mesh"),
    ("ef47e344-4bff-4e28-87da-6551a21ffbe0", "Olympus Test"),
    (
        "efcacd1b-d299-4553-8ff0-f9351d9ff044",
        "ADIbizaUX-AsyncProcessor",
    ),
    (
        "efdffe3a-aeb7-40c4-9490-e2d563152033",
        "Microsoft_Azure_ServiceFabric",
    ),
    ("f05ff7c9-f75a-4acd-a3b5-f4b6a870245d", "SharePoint Android"),
    (
        "f0b72488-7082-488a-a7e8-eada97bd842d",
        "Power BI Report Builder",
    ),
    (
        "f229df84-05da-4ca8-a893-6e514fca6157",
        "Teams Walkie Talkie Service",
    ),
    ("f36c30df-d241-4c14-a0ee-752c71e4d3da", "IDS-PROD"),
    (
        "f3723d34-6ff5-4ceb-a148-d99dcd2511fc",
        "Bot Framework Dev Portal",
    ),
    (
        "f448d7e5-e313-4f90-a3eb-5dbb3277e4b3",
        "Media Recording for Dynamics 365 Sales",
    ),
    ("f44b1140-bc5e-48c6-8dc0-5cf5a53c0e34", "Microsoft Edge"),
    (
        "f4548917-4954-4f48-8185-cd902208436c",
        "Liftr-IN-FPA-PRT-AME",
    ),
    (
        "f52f5287-0be2-4052-83e8-e69620aa67cc",
        "Microsoft Intune for Education portal extension",
    ),
    ("f53895d3-095d-408f-8e93-8f94b391404e", "Portfolios"),
    (
        "f64071b9-a79b-4655-9dad-3b3535e00b84",
        "Websites Extensions",
    ),
    (
        "f702b36e-7ae0-4249-8718-e004e3275e92",
        "Guardian Resource Gateway",
    ),
    (
        "f7691d3f-18be-4a7b-8639-efbb9ff02349",
        "Microsoft Reflect and Insights",
    ),
    ("f9818e52-50bd-463e-8932-a1650bd3fad2", "Kusto Web Explorer"),
    (
        "f9885e6e-6f74-46b3-b595-350157a27541",
        "Microsoft_AAD_UsersAndTenants",
    ),
    (
        "f9a5ac11-cab3-45f0-9d0f-83463ba2e34c",
        "make.test.powerpages.microsoft.com",
    ),
    ("fa3d58b1-f3bc-489e-954e-119d58a29bae", "Office Scripts"),
    (
        "fb78d390-0c51-40cd-8e17-fdbfab77341b",
        "Microsoft Exchange REST API Based Powershell",
    ),
    (
        "fc03f97a-9db0-4627-a216-ec98ce54e018",
        "Azure AD Notification",
    ),
    (
        "fc0f3af4-6835-4174-b806-f7db311fd2f3",
        "Microsoft Intune Windows Agent",
    ),
    (
        "fca5a20d-55aa-4395-9c2f-c6147f3c9ffa",
        "Microsoft Remote Assist",
    ),
    (
        "fdd7719f-d61e-4592-b501-793734eb8a0e",
        "SharePoint Migration Tool",
    ),
    (
        "fe1b2b53-eb41-4515-a3b4-d62059faf520",
        "Microsoft Engage Hub",
    ),
    (
        "fe8f0c38-d9f1-42cc-ad58-0080879a4b9b",
        "Microsoft Azure Automation portal extension",
    ),
    (
        "feb2c8aa-4f70-4881-abec-521141627b04",
        "make.gov.powerapps.us",
    ),
];
